using Instrumentation.Collector.Storage.Sqlite;
using Microsoft.Data.Sqlite;

namespace Instrumentation.Collector.Storage.Rollups;

/// <summary>
/// Writes a <see cref="DashboardRollup"/> into the rollup file (<see cref="SqliteRollupFile"/>) on the fold writer's
/// connection (<see cref="SqliteFoldWriter"/>). Every statement is a
/// <see cref="RawStatement"/>: a commit of small batches runs a few hundred upserts (one per distinct minute, type and
/// context value), where a <see cref="SqliteCommand"/> execution (parameter lookups by name, boxing, UTF-16 → UTF-8
/// conversion, a reader per call) cost about as much as SQLite's own work. They run inside the fold writer's
/// transaction (the connection's), so they need no transaction of their own. Both the context index
/// (<see cref="WriteContextRows"/>) and the totals (<see cref="WriteTotals"/>) are written by its folds and read-backs
/// (see <see cref="SqliteRollupFolder"/>).
/// </summary>
internal sealed class SqliteRollupWriter : IDisposable
{
    private readonly RawStatement _minute;
    private readonly RawStatement _contextRow;
    private readonly RawStatement _contextMinute;
    private readonly RawStatement _valueMinute;
    private readonly RawStatement _value;
    private readonly RawStatement _valueType;
    private readonly RawStatement _mark;
    private readonly Dictionary<(string Key, string Value), long> _newMinutes = [];

    public SqliteRollupWriter(SqliteConnection writer)
    {
        var made = new List<RawStatement>(7);
        try
        {
            _minute = Make(made, writer, """
                INSERT INTO event_minutes (minute, type, priority, count) VALUES (?1, ?2, ?3, ?4)
                ON CONFLICT (minute, type, priority) DO UPDATE SET count = count + excluded.count;
                """);
            _contextRow = Make(made, writer, "INSERT INTO event_context (key, value, ticks, seq) VALUES (?1, ?2, ?3, ?4) ON CONFLICT DO NOTHING;");
            _contextMinute = Make(made, writer, """
                INSERT INTO context_minutes (key, value, minute, type, count) VALUES (?1, ?2, ?3, ?4, ?5)
                ON CONFLICT (key, value, minute, type) DO UPDATE SET count = count + excluded.count;
                """);
            _valueMinute = Make(made, writer, "INSERT INTO context_value_minutes (key, value, minute) VALUES (?1, ?2, ?3) ON CONFLICT DO NOTHING;");
            _value = Make(made, writer, """
                INSERT INTO context_values (key, value, events, first_ticks, last_ticks, active_minutes) VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                ON CONFLICT (key, value) DO UPDATE SET
                    events = events + excluded.events,
                    first_ticks = MIN(first_ticks, excluded.first_ticks),
                    last_ticks = MAX(last_ticks, excluded.last_ticks),
                    active_minutes = active_minutes + excluded.active_minutes;
                """);
            _valueType = Make(made, writer, """
                INSERT INTO context_value_types (key, value, type, count) VALUES (?1, ?2, ?3, ?4)
                ON CONFLICT (key, value, type) DO UPDATE SET count = count + excluded.count;
                """);
            _mark = Make(made, writer, "UPDATE rollup_mark SET through_seq = ?1;");
        }
        catch
        {
            // The connection does not finalize raw statements: the ones made before the failure go here.
            foreach (RawStatement statement in made)
            {
                statement.Dispose();
            }

            throw;
        }
    }

    /// <summary>Writes the context index rows (<c>event_context</c>) of new events, in the caller's transaction.</summary>
    /// <param name="rollup">The sums of the commit's new events.</param>
    /// <param name="seqs">The seq of each of those events, in the order the rollup got them.</param>
    public void WriteContextRows(DashboardRollup rollup, IReadOnlyList<long> seqs)
    {
        if (seqs.Count != rollup.EventCount)
        {
            throw new InvalidOperationException($"The commit added {seqs.Count} events but its rollup sums {rollup.EventCount}.");
        }

        foreach ((string key, string value, long ticks, int position) in rollup.ContextRows)
        {
            WriteContextRow(key, value, ticks, seqs[position]);
        }
    }

    /// <summary>Writes one row of the context index (<c>event_context</c>); a row already there is left as it is.</summary>
    public void WriteContextRow(string key, string value, long ticks, long seq)
    {
        _contextRow.Bind(1, key);
        _contextRow.Bind(2, value);
        _contextRow.Bind(3, ticks);
        _contextRow.Bind(4, seq);
        _contextRow.Execute();
    }

    /// <summary>
    /// Adds <paramref name="rollup"/>'s totals to the rollup tables (all but the context index) and records that they are
    /// complete through <paramref name="throughSeq"/> (<c>rollup_mark</c>), in the caller's transaction: the sums and
    /// the mark commit or roll back together, which is what lets a restart recompute exactly the events after the mark.
    /// </summary>
    /// <param name="rollup">The sums of every event with a seq above the current mark, up to <paramref name="throughSeq"/>.</param>
    /// <param name="throughSeq">The largest seq those events have.</param>
    public void WriteTotals(DashboardRollup rollup, long throughSeq)
    {
        _newMinutes.Clear(); // here, not after use: a failed commit may have left some
        foreach (((long minute, string type, string priority), long count) in rollup.Minutes)
        {
            _minute.Bind(1, minute);
            _minute.Bind(2, type);
            _minute.Bind(3, priority);
            _minute.Bind(4, count);
            _minute.Execute();
        }

        foreach (((string key, string value, long minute, string type), long count) in rollup.ContextMinutes)
        {
            _contextMinute.Bind(1, key);
            _contextMinute.Bind(2, value);
            _contextMinute.Bind(3, minute);
            _contextMinute.Bind(4, type);
            _contextMinute.Bind(5, count);
            _contextMinute.Execute();

            // A value's active minutes grow by the minutes it had no event in before: the rows this commit adds. The key
            // holds each (key, value, minute) once per type; after the first, the insert adds nothing.
            _valueMinute.Bind(1, key);
            _valueMinute.Bind(2, value);
            _valueMinute.Bind(3, minute);
            if (_valueMinute.Execute() == 1)
            {
                _newMinutes[(key, value)] = _newMinutes.GetValueOrDefault((key, value)) + 1;
            }
        }

        foreach (((string key, string value), DashboardRollup.ValueTotals totals) in rollup.Values)
        {
            _value.Bind(1, key);
            _value.Bind(2, value);
            _value.Bind(3, totals.Events);
            _value.Bind(4, totals.FirstTicks);
            _value.Bind(5, totals.LastTicks);
            _value.Bind(6, _newMinutes.GetValueOrDefault((key, value)));
            _value.Execute();
        }

        foreach (((string key, string value, string type), long count) in rollup.ValueTypes)
        {
            _valueType.Bind(1, key);
            _valueType.Bind(2, value);
            _valueType.Bind(3, type);
            _valueType.Bind(4, count);
            _valueType.Execute();
        }

        _mark.Bind(1, throughSeq);
        _mark.Execute();
    }

    public void Dispose()
    {
        _minute.Dispose();
        _contextRow.Dispose();
        _contextMinute.Dispose();
        _valueMinute.Dispose();
        _value.Dispose();
        _valueType.Dispose();
        _mark.Dispose();
    }

    private static RawStatement Make(List<RawStatement> made, SqliteConnection writer, string sql)
    {
        var statement = new RawStatement(writer, sql);
        made.Add(statement);
        return statement;
    }
}
