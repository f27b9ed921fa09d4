using Instrumentation.Collector.Storage;

namespace Instrumentation.Collector.Hosting;

/// <summary>
/// Settings of the collector (configuration section <c>Collector</c>: appsettings.json, environment variables such as
/// <c>Collector__DatabasePath</c>, or command-line arguments such as <c>--Collector:DatabasePath=…</c>). Checked when
/// the service starts (<see cref="CollectorOptionsValidator"/>). Where the service listens is not set here but the
/// ASP.NET Core way: <c>--urls</c>, <c>ASPNETCORE_URLS</c> or <c>Kestrel:Endpoints</c>.
/// </summary>
public sealed class CollectorOptions
{
    /// <summary>The configuration section the options are read from.</summary>
    public const string SectionName = "Collector";

    /// <summary>The SQLite database file when <see cref="Storage"/> names no connection string; created when missing. Default <c>collector.db</c> in the working directory.</summary>
    public string DatabasePath { get; set; } = "collector.db";

    /// <summary>Where events are stored: SQLite (default) or PostgreSQL (section <c>Collector:Storage</c>).</summary>
    public StorageOptions Storage { get; set; } = new();

    /// <summary>
    /// Keys accepted as <c>Authorization: Bearer …</c> for everything: uploads and reads. When this,
    /// <see cref="IngestKeys"/> and <see cref="ReadKeys"/> are all empty, no request needs a key.
    /// </summary>
    public List<string> ApiKeys { get; set; } = [];

    /// <summary>Keys that may upload events (<c>POST /logs</c>, <c>POST /logs/batch</c>) and nothing else.</summary>
    public List<string> IngestKeys { get; set; } = [];

    /// <summary>Keys that may read (<c>GET /logs</c>, <c>GET /stats</c>, the dashboard) and not upload.</summary>
    public List<string> ReadKeys { get; set; } = [];

    /// <summary>The largest request body, counted after decompression (and without chunked framing). Default 1 MiB.</summary>
    public int MaxRequestBytes { get; set; } = 1024 * 1024;

    /// <summary>The most events one batch may hold. Default 1,000.</summary>
    public int MaxEventsPerBatch { get; set; } = 1000;

    /// <summary>The largest single event (its JSON). Default 64 KiB.</summary>
    public int MaxEventBytes { get; set; } = 64 * 1024;

    /// <summary>
    /// How deeply an event's JSON may nest (the event object is level 1, its <c>data</c> level 2). Deeper events are
    /// rejected, so that every stored event can be read back inside a page (which adds two levels). Default 32; at
    /// most 60.
    /// </summary>
    public int MaxEventDepth { get; set; } = 32;

    /// <summary>
    /// Requests allowed per second for each API key, or for each client address when no keys are configured;
    /// 0 turns the limit off. Default 200.
    /// </summary>
    public int RequestsPerSecondPerKey { get; set; } = 200;

    /// <summary>How many requests above the rate a key (or address) may send in a burst. Default 400.</summary>
    public int BurstPerKey { get; set; } = 400;

    /// <summary>
    /// With keys configured: failed authentications (a wrong or malformed key, or no key where one is needed) allowed
    /// per minute from one client address (IPv6: one /64 network); beyond it they get 429 instead of 401, whatever key
    /// they try. 0 turns the limit off. Default 30.
    /// </summary>
    public int FailedAuthenticationsPerMinute { get; set; } = 30;

    /// <summary>The largest page <c>GET /logs</c> returns. Default 1,000.</summary>
    public int MaxPageSize { get; set; } = 1000;
}
