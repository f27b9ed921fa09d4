using System.Data.Common;
using System.Text;

namespace Instrumentation.Collector.Storage;

/// <summary>
/// The SQL both stores share for reads (both accept <c>@name</c> parameters and the same columns): the WHERE clause of
/// an <see cref="EventQuery"/> or <see cref="EventCountQuery"/>. Values always travel as parameters, never as text.
/// </summary>
internal static class EventQuerySql
{
    /// <summary>How a dialect tests one context field and the data text.</summary>
    public interface IDialect
    {
        /// <summary>A condition true when the event's <c>context</c> has field <paramref name="keyParameter"/> with string
        /// value <paramref name="valueParameter"/>.</summary>
        string ContextEquals(string keyParameter, string valueParameter);

        /// <summary>A condition true when the event's <c>data</c> JSON text contains <paramref name="textParameter"/>.</summary>
        string DataContains(string textParameter);
    }

    public static void AppendSelect(DbCommand command, EventQuery query, IDialect dialect)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(query.Limit, 1, nameof(query.Limit));
        var where = new List<string>();
        bool textFilterHasNul = HasNul(query.DataContains) || (query.Context is not null && query.Context.Any(p => HasNul(p.Key) || HasNul(p.Value)));
        if (textFilterHasNul)
        {
            where.Add(MatchesNothing);
        }

        AddCommonFilters(command, where, query.Type, query.Since, query.Until);
        if (query.After is { } after)
        {
            // The first condition alone bounds the (timestamp_ticks, seq) index scan: neither database turns the OR below into
            // a range start, and without it each page scanned from the newest row down to the cursor.
            where.Add("timestamp_ticks <= @cursor_ticks AND (timestamp_ticks < @cursor_ticks OR seq < @cursor_seq)");
            Add(command, "cursor_ticks", after.Ticks);
            Add(command, "cursor_seq", after.Sequence);
        }

        if (query.Context is not null && !textFilterHasNul)
        {
            int i = 0;
            foreach ((string key, string value) in query.Context)
            {
                where.Add(dialect.ContextEquals("@context_key" + i, "@context_value" + i));
                Add(command, "context_key" + i, key);
                Add(command, "context_value" + i, value);
                i++;
            }
        }

        if (!string.IsNullOrEmpty(query.DataContains) && !textFilterHasNul)
        {
            where.Add(dialect.DataContains("@data_text"));
            Add(command, "data_text", query.DataContains);
        }

        var sql = new StringBuilder("SELECT json, timestamp_ticks, seq FROM events");
        AppendWhere(sql, where);
        sql.Append(" ORDER BY timestamp_ticks DESC, seq DESC LIMIT @limit");
        Add(command, "limit", (long)query.Limit);
        command.CommandText = sql.ToString();
    }

    public static void AppendCount(DbCommand command, EventCountQuery query)
    {
        var where = new List<string>();
        AddCommonFilters(command, where, query.Type, query.Since, query.Until);
        var sql = new StringBuilder("SELECT (timestamp_ticks / @bucket) * @bucket AS bucket, type, COUNT(*) FROM events");
        AppendWhere(sql, where);
        sql.Append(" GROUP BY bucket, type ORDER BY bucket, type");
        Add(command, "bucket", query.BucketTicks);
        command.CommandText = sql.ToString();
    }

    // Nothing stored holds U+0000 where a filter looks (types and context fields refuse it, and data is JSON text where it
    // is an escape), while PostgreSQL refuses it in a text parameter: such a filter matches nothing, and is not sent.
    private const string MatchesNothing = "1 = 0";

    private static bool HasNul(string? text) => text is not null && text.Contains('\0');

    private static void AddCommonFilters(DbCommand command, List<string> where, string? type, DateTimeOffset? since, DateTimeOffset? until)
    {
        if (HasNul(type))
        {
            where.Add(MatchesNothing);
        }
        else if (type is not null)
        {
            where.Add("type = @type");
            Add(command, "type", type);
        }

        if (since is not null)
        {
            where.Add("timestamp_ticks >= @since");
            Add(command, "since", since.Value.UtcTicks);
        }

        if (until is not null)
        {
            where.Add("timestamp_ticks < @until");
            Add(command, "until", until.Value.UtcTicks);
        }
    }

    private static void AppendWhere(StringBuilder sql, List<string> where)
    {
        if (where.Count > 0)
        {
            sql.Append(" WHERE ").AppendJoin(" AND ", where);
        }
    }

    private static void Add(DbCommand command, string name, object value)
    {
        DbParameter parameter = command.CreateParameter();
        parameter.ParameterName = name;
        parameter.Value = value;
        command.Parameters.Add(parameter);
    }
}
