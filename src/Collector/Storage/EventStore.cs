using System.Globalization;
using Microsoft.Data.Sqlite;

namespace Instrumentation.Collector.Storage;

/// <summary>
/// Events in a SQLite file: WAL mode, one transaction per request, prepared statements, and the event id as the
/// key so that a retried or replayed event is accepted without being stored twice.
/// </summary>
/// <remarks>
/// SQLite allows one writer at a time; writes are serialized here so concurrent requests queue in memory instead of
/// meeting SQLITE_BUSY. Reads run alongside writes (WAL).
/// </remarks>
public sealed class EventStore : IDisposable
{
    private readonly string _connectionString;
    private readonly SemaphoreSlim _writer = new(1, 1);

    /// <summary>Opens (and creates, when missing) the database at <paramref name="path"/>.</summary>
    /// <param name="path">The database file.</param>
    public EventStore(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        string? directory = Path.GetDirectoryName(Path.GetFullPath(path));
        if (directory is not null)
        {
            Directory.CreateDirectory(directory);
        }

        _connectionString = new SqliteConnectionStringBuilder { DataSource = path, Mode = SqliteOpenMode.ReadWriteCreate, Pooling = true, DefaultTimeout = 30 }.ToString();
        using SqliteConnection connection = Open();
        Execute(connection, "PRAGMA journal_mode=WAL;");
        Execute(connection, """
            CREATE TABLE IF NOT EXISTS events (
                seq INTEGER PRIMARY KEY AUTOINCREMENT,
                id TEXT NOT NULL UNIQUE,
                type TEXT NOT NULL,
                priority TEXT NOT NULL,
                timestamp TEXT NOT NULL,
                timestamp_ticks INTEGER NOT NULL,
                received_at TEXT NOT NULL,
                json TEXT NOT NULL
            );
            CREATE INDEX IF NOT EXISTS events_by_time ON events (timestamp_ticks, seq);
            CREATE INDEX IF NOT EXISTS events_by_type_time ON events (type, timestamp_ticks, seq);
            """);
    }

    /// <summary>Stores the events in one transaction: all of them or, on failure, none.</summary>
    /// <param name="events">The events.</param>
    /// <param name="cancellationToken">Stops waiting for the writer.</param>
    /// <returns>How many were new (the others were already stored).</returns>
    public async Task<int> AddAsync(IReadOnlyList<StoredEvent> events, CancellationToken cancellationToken)
    {
        if (events.Count == 0)
        {
            return 0;
        }

        await _writer.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            using SqliteConnection connection = Open();
            using SqliteTransaction transaction = connection.BeginTransaction(deferred: false);
            using SqliteCommand insert = connection.CreateCommand();
            insert.Transaction = transaction;
            insert.CommandText = """
                INSERT INTO events (id, type, priority, timestamp, timestamp_ticks, received_at, json)
                VALUES ($id, $type, $priority, $timestamp, $ticks, $received, $json)
                ON CONFLICT (id) DO NOTHING;
                """;
            SqliteParameter id = insert.Parameters.Add("$id", SqliteType.Text);
            SqliteParameter type = insert.Parameters.Add("$type", SqliteType.Text);
            SqliteParameter priority = insert.Parameters.Add("$priority", SqliteType.Text);
            SqliteParameter timestamp = insert.Parameters.Add("$timestamp", SqliteType.Text);
            SqliteParameter ticks = insert.Parameters.Add("$ticks", SqliteType.Integer);
            SqliteParameter received = insert.Parameters.Add("$received", SqliteType.Text);
            SqliteParameter json = insert.Parameters.Add("$json", SqliteType.Text);
            insert.Prepare();
            received.Value = DateTimeOffset.UtcNow.ToString("O", CultureInfo.InvariantCulture);
            int added = 0;
            foreach (StoredEvent item in events)
            {
                id.Value = item.Id.ToString("D");
                type.Value = item.Type;
                priority.Value = item.Priority;
                timestamp.Value = item.Timestamp.UtcDateTime.ToString("O", CultureInfo.InvariantCulture);
                ticks.Value = item.Timestamp.UtcTicks;
                json.Value = item.Json;
                added += insert.ExecuteNonQuery();
            }

            transaction.Commit();
            return added;
        }
        finally
        {
            _writer.Release();
        }
    }

    /// <summary>Counts by type and priority, first and last timestamps.</summary>
    /// <returns>The statistics.</returns>
    public StoreStatistics GetStatistics()
    {
        using SqliteConnection connection = Open();
        var byType = new SortedDictionary<string, long>(StringComparer.Ordinal);
        var byPriority = new SortedDictionary<string, long>(StringComparer.Ordinal);
        long total = 0;
        using (SqliteCommand command = connection.CreateCommand())
        {
            command.CommandText = "SELECT type, priority, COUNT(*) FROM events GROUP BY type, priority;";
            using SqliteDataReader reader = command.ExecuteReader();
            while (reader.Read())
            {
                long count = reader.GetInt64(2);
                total += count;
                byType[reader.GetString(0)] = byType.GetValueOrDefault(reader.GetString(0)) + count;
                byPriority[reader.GetString(1)] = byPriority.GetValueOrDefault(reader.GetString(1)) + count;
            }
        }

        DateTimeOffset? first = null, last = null;
        using (SqliteCommand command = connection.CreateCommand())
        {
            command.CommandText = "SELECT MIN(timestamp_ticks), MAX(timestamp_ticks) FROM events;";
            using SqliteDataReader reader = command.ExecuteReader();
            if (reader.Read() && !reader.IsDBNull(0))
            {
                first = new DateTimeOffset(reader.GetInt64(0), TimeSpan.Zero);
                last = new DateTimeOffset(reader.GetInt64(1), TimeSpan.Zero);
            }
        }

        return new StoreStatistics(total, byType, byPriority, first, last);
    }

    /// <summary>Events newest first, optionally of one type and within a time range, a page at a time.</summary>
    /// <param name="type">Only this type, when set.</param>
    /// <param name="since">Only events at or after this time, when set.</param>
    /// <param name="until">Only events before this time, when set.</param>
    /// <param name="limit">The page size.</param>
    /// <param name="cursor">The previous page's <see cref="EventPage.NextCursor"/>, or null for the first page.</param>
    /// <returns>The page.</returns>
    public EventPage Query(string? type, DateTimeOffset? since, DateTimeOffset? until, int limit, EventCursor? cursor)
    {
        using SqliteConnection connection = Open();
        using SqliteCommand command = connection.CreateCommand();
        var where = new List<string>();
        if (type is not null)
        {
            where.Add("type = $type");
            command.Parameters.AddWithValue("$type", type);
        }

        if (since is not null)
        {
            where.Add("timestamp_ticks >= $since");
            command.Parameters.AddWithValue("$since", since.Value.UtcTicks);
        }

        if (until is not null)
        {
            where.Add("timestamp_ticks < $until");
            command.Parameters.AddWithValue("$until", until.Value.UtcTicks);
        }

        if (cursor is { } after)
        {
            where.Add("(timestamp_ticks < $cursorTicks OR (timestamp_ticks = $cursorTicks AND seq < $cursorSeq))");
            command.Parameters.AddWithValue("$cursorTicks", after.Ticks);
            command.Parameters.AddWithValue("$cursorSeq", after.Sequence);
        }

        command.CommandText = "SELECT json, timestamp_ticks, seq FROM events"
            + (where.Count > 0 ? " WHERE " + string.Join(" AND ", where) : string.Empty)
            + " ORDER BY timestamp_ticks DESC, seq DESC LIMIT $limit;";
        command.Parameters.AddWithValue("$limit", limit + 1);
        var events = new List<string>(limit);
        EventCursor last = default;
        bool more = false;
        using SqliteDataReader reader = command.ExecuteReader();
        while (reader.Read())
        {
            if (events.Count == limit)
            {
                more = true; // one row beyond the page: there is a next page
                break;
            }

            events.Add(reader.GetString(0));
            last = new EventCursor(reader.GetInt64(1), reader.GetInt64(2));
        }

        return new EventPage(events, more ? last.ToString() : null);
    }

    /// <summary>Answers when the database can be opened and read (the readiness check).</summary>
    /// <param name="cancellationToken">Stops the check.</param>
    /// <returns>A task that fails when the database does not answer.</returns>
    public async Task PingAsync(CancellationToken cancellationToken)
    {
        using SqliteConnection connection = Open();
        using SqliteCommand command = connection.CreateCommand();
        command.CommandText = "SELECT 1 FROM events LIMIT 1;";
        await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Every stored id with how many rows hold it (always one; for tests that check exactly-once).</summary>
    /// <returns>The ids.</returns>
    public IReadOnlyDictionary<Guid, long> CountById()
    {
        using SqliteConnection connection = Open();
        using SqliteCommand command = connection.CreateCommand();
        command.CommandText = "SELECT id, COUNT(*) FROM events GROUP BY id;";
        var ids = new Dictionary<Guid, long>();
        using SqliteDataReader reader = command.ExecuteReader();
        while (reader.Read())
        {
            ids[Guid.Parse(reader.GetString(0))] = reader.GetInt64(1);
        }

        return ids;
    }

    /// <inheritdoc />
    public void Dispose()
    {
        _writer.Dispose();
        SqliteConnection.ClearAllPools();
    }

    private SqliteConnection Open()
    {
        var connection = new SqliteConnection(_connectionString);
        connection.Open();
        return connection;
    }

    private static void Execute(SqliteConnection connection, string sql)
    {
        using SqliteCommand command = connection.CreateCommand();
        command.CommandText = sql;
        command.ExecuteNonQuery();
    }
}

/// <summary>Where a page of <c>GET /logs</c> ended: the last event's timestamp and sequence.</summary>
/// <param name="Ticks">The timestamp in UTC ticks.</param>
/// <param name="Sequence">The row's sequence number.</param>
public readonly record struct EventCursor(long Ticks, long Sequence)
{
    /// <inheritdoc />
    public override string ToString() => Ticks.ToString(CultureInfo.InvariantCulture) + "-" + Sequence.ToString(CultureInfo.InvariantCulture);

    /// <summary>Reads a cursor written by <see cref="ToString"/>.</summary>
    /// <param name="text">The text.</param>
    /// <param name="cursor">The cursor.</param>
    /// <returns>Whether the text was a cursor.</returns>
    public static bool TryParse(string? text, out EventCursor cursor)
    {
        cursor = default;
        string[] parts = (text ?? string.Empty).Split('-');
        if (parts.Length == 2
            && long.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out long ticks)
            && long.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out long sequence))
        {
            cursor = new EventCursor(ticks, sequence);
            return true;
        }

        return false;
    }
}
