using Npgsql;
using NpgsqlTypes;

namespace Instrumentation.Collector.Storage.PostgreSql;

/// <summary>
/// A group's events as the columns of the insert's <c>unnest</c>, one entry per distinct id: the first occurrence of an
/// id in the group (the one <see cref="InsertResult"/> reports as new) is sent, later ones are not, so that the plain
/// insert meets a unique violation only for an id stored before or by another transaction.
/// </summary>
internal sealed class EventColumns
{
    public EventColumns(IReadOnlyList<IReadOnlyList<StoredEvent>> batches)
    {
        int total = 0;
        foreach (IReadOnlyList<StoredEvent> batch in batches)
        {
            total += batch.Count;
        }

        var seen = new HashSet<Guid>(total);
        var ids = new Guid[total];
        var types = new string[total];
        var priorities = new string[total];
        var ticks = new long[total];
        var times = new DateTime[total];
        // Each event's JSON as the UTF-8 bytes it arrived in (a slice of its request's body, alive until the request is
        // answered, which is after the commit): Npgsql writes text from bytes as they are, so no string is made per event
        // and no UTF-16 to UTF-8 round trip is paid on the writer's path.
        var jsons = new ReadOnlyMemory<byte>[total];
        int n = 0;
        foreach (IReadOnlyList<StoredEvent> batch in batches)
        {
            foreach (StoredEvent item in batch)
            {
                if (!seen.Add(item.Id))
                {
                    continue;
                }

                ids[n] = item.Id;
                types[n] = item.Type;
                priorities[n] = item.Priority;
                ticks[n] = item.Timestamp.UtcTicks;
                times[n] = item.Timestamp.UtcDateTime;
                jsons[n] = item.Utf8Json;
                n++;
            }
        }

        if (n < total)
        {
            Array.Resize(ref ids, n);
            Array.Resize(ref types, n);
            Array.Resize(ref priorities, n);
            Array.Resize(ref ticks, n);
            Array.Resize(ref times, n);
            Array.Resize(ref jsons, n);
        }

        Ids = ids;
        Types = types;
        Priorities = priorities;
        Ticks = ticks;
        Times = times;
        Jsons = jsons;
    }

    /// <summary>The distinct ids, in the order the group first has them.</summary>
    public Guid[] Ids { get; }

    private string[] Types { get; }

    private string[] Priorities { get; }

    private long[] Ticks { get; }

    private DateTime[] Times { get; }

    private ReadOnlyMemory<byte>[] Jsons { get; }

    /// <summary>Adds the columns as the array parameters <c>@ids</c>, <c>@types</c>, <c>@priorities</c>, <c>@ticks</c>, <c>@times</c> and <c>@jsons</c>.</summary>
    public void AddParameters(NpgsqlParameterCollection parameters)
    {
        parameters.Add(new NpgsqlParameter<Guid[]>("ids", NpgsqlDbType.Array | NpgsqlDbType.Uuid) { TypedValue = Ids });
        parameters.Add(new NpgsqlParameter<string[]>("types", NpgsqlDbType.Array | NpgsqlDbType.Text) { TypedValue = Types });
        parameters.Add(new NpgsqlParameter<string[]>("priorities", NpgsqlDbType.Array | NpgsqlDbType.Text) { TypedValue = Priorities });
        parameters.Add(new NpgsqlParameter<long[]>("ticks", NpgsqlDbType.Array | NpgsqlDbType.Bigint) { TypedValue = Ticks });
        parameters.Add(new NpgsqlParameter<DateTime[]>("times", NpgsqlDbType.Array | NpgsqlDbType.TimestampTz) { TypedValue = Times });
        parameters.Add(new NpgsqlParameter<ReadOnlyMemory<byte>[]>("jsons", NpgsqlDbType.Array | NpgsqlDbType.Text) { TypedValue = Jsons });
    }
}
