using Instrumentation.Collector.Storage;

namespace Instrumentation.Collector.Hosting;

/// <summary>Settings of the collector (configuration section <c>Collector</c>).</summary>
public sealed class CollectorOptions
{
    /// <summary>The configuration section read by <c>dotnet run</c>.</summary>
    public const string SectionName = "Collector";

    /// <summary>The address to listen on; loopback only. Port 0 picks a free port (read it from <see cref="RunningCollector.Address"/>). Default <c>http://127.0.0.1:5080</c>.</summary>
    public string Url { get; set; } = "http://127.0.0.1:5080";

    /// <summary>The SQLite database file when <see cref="Storage"/> names no connection string; created when missing. Default <c>collector.db</c> in the working directory.</summary>
    public string DatabasePath { get; set; } = "collector.db";

    /// <summary>Where events are stored: SQLite (default) or PostgreSQL (section <c>Collector:Storage</c>).</summary>
    public StorageOptions Storage { get; set; } = new();

    /// <summary>API keys accepted as <c>Authorization: Bearer …</c>. When empty, requests need no key.</summary>
    public List<string> ApiKeys { get; set; } = [];

    /// <summary>The largest request body, after decompression. Default 1 MiB.</summary>
    public int MaxRequestBytes { get; set; } = 1024 * 1024;

    /// <summary>The most events one batch may hold. Default 1,000.</summary>
    public int MaxEventsPerBatch { get; set; } = 1000;

    /// <summary>The largest single event (its JSON). Default 64 KiB.</summary>
    public int MaxEventBytes { get; set; } = 64 * 1024;

    /// <summary>Upload requests allowed per second for each API key (or for everyone, without keys); 0 turns the limit off. Default 200.</summary>
    public int RequestsPerSecondPerKey { get; set; } = 200;

    /// <summary>How many requests above the rate a key may send in a burst. Default 400.</summary>
    public int BurstPerKey { get; set; } = 400;

    /// <summary>The largest page <c>GET /logs</c> returns. Default 1,000.</summary>
    public int MaxPageSize { get; set; } = 1000;
}
