using System.Collections.Concurrent;
using System.IO.Compression;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Instrumentation.Tests.Upload;

/// <summary>One request the collector received, decompressed and parsed.</summary>
internal sealed record ReceivedRequest(string Path, string? ContentEncoding, string? Authorization, int BodyBytes, string Json, IReadOnlyList<JsonElement> Events)
{
    public IEnumerable<Guid> EventIds => Events.Select(e => e.GetProperty("id").GetGuid());
}

/// <summary>
/// A real Kestrel server on 127.0.0.1 (port 0) that records what it receives and answers as each test scripts it:
/// status codes, Retry-After, partial rejects, dropped connections. Events it answered 2xx for count as stored.
/// </summary>
internal sealed class ScriptedCollector : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly ConcurrentQueue<Func<HttpContext, ReceivedRequest, Task<bool>>> _script = new();
    private readonly ConcurrentQueue<ReceivedRequest> _received = new();
    private readonly ConcurrentDictionary<Guid, int> _stored = new();
    private int _inFlight;
    private int _maxInFlight;

    private ScriptedCollector(WebApplication app)
    {
        _app = app;
    }

    public Uri Endpoint { get; private set; } = null!;

    /// <summary>Every request, in arrival order.</summary>
    public IReadOnlyList<ReceivedRequest> Received => [.. _received];

    /// <summary>How many times each event id was in a request answered with success.</summary>
    public IReadOnlyDictionary<Guid, int> Stored => _stored;

    /// <summary>Upload requests being handled now.</summary>
    public int InFlight => Volatile.Read(ref _inFlight);

    /// <summary>The most upload requests that were ever handled at the same time.</summary>
    public int MaxInFlight => Volatile.Read(ref _maxInFlight);

    /// <summary>Answers GET requests (a captive portal's login page); 404 when null.</summary>
    public Func<HttpContext, Task>? OnGet { get; set; }

    /// <summary>Forgets the highest concurrency seen so far.</summary>
    public void ResetMaxInFlight() => Interlocked.Exchange(ref _maxInFlight, InFlight);

    /// <summary>What the server does when the script is empty; by default it accepts everything.</summary>
    public Func<HttpContext, ReceivedRequest, Task<bool>>? Default { get; set; }

    public static async Task<ScriptedCollector> StartAsync()
    {
        WebApplicationBuilder builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Logging.ClearProviders();
        WebApplication app = builder.Build();
        var collector = new ScriptedCollector(app);
        app.Run(collector.HandleAsync);
        await app.StartAsync();
        string address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.Single();
        collector.Endpoint = new Uri(address);
        return collector;
    }

    /// <summary>Queues the answer for the next request: return true when the events count as stored.</summary>
    public void Then(Func<HttpContext, ReceivedRequest, Task<bool>> answer) => _script.Enqueue(answer);

    public void ThenStatus(int status, string? retryAfter = null) => Then(async (context, _) =>
    {
        context.Response.StatusCode = status;
        if (retryAfter is not null)
        {
            context.Response.Headers.RetryAfter = retryAfter;
        }

        await context.Response.WriteAsync("scripted " + status);
        return false;
    });

    public void ThenDropConnection() => Then(DropConnection);

    /// <summary>An answer that drops the connection without a response: the collector is down (or the network is).</summary>
    public static Task<bool> DropConnection(HttpContext context, ReceivedRequest request)
    {
        context.Abort();
        return Task.FromResult(false);
    }

    public static async Task<bool> AcceptAll(HttpContext context, ReceivedRequest request)
    {
        context.Response.ContentType = "application/json";
        await context.Response.WriteAsync($$"""{"accepted":{{request.Events.Count}},"rejected":[]}""");
        return true;
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }

    private async Task HandleAsync(HttpContext context)
    {
        if (HttpMethods.IsGet(context.Request.Method))
        {
            await (OnGet?.Invoke(context) ?? Task.Run(() => context.Response.StatusCode = 404));
            return;
        }

        int inFlight = Interlocked.Increment(ref _inFlight);
        for (int seen = Volatile.Read(ref _maxInFlight); inFlight > seen; seen = Volatile.Read(ref _maxInFlight))
        {
            Interlocked.CompareExchange(ref _maxInFlight, inFlight, seen);
        }

        try
        {
            ReceivedRequest request = await ReadAsync(context.Request);
            _received.Enqueue(request);
            Func<HttpContext, ReceivedRequest, Task<bool>> answer = _script.TryDequeue(out var scripted) ? scripted : Default ?? AcceptAll;
            if (await answer(context, request))
            {
                foreach (Guid id in request.EventIds)
                {
                    _stored.AddOrUpdate(id, 1, (_, n) => n + 1);
                }
            }
        }
        finally
        {
            Interlocked.Decrement(ref _inFlight);
        }
    }

    /// <summary>Marks some of a request's events as stored (for partial answers written by a script).</summary>
    public void Store(IEnumerable<Guid> ids)
    {
        foreach (Guid id in ids)
        {
            _stored.AddOrUpdate(id, 1, (_, n) => n + 1);
        }
    }

    private static async Task<ReceivedRequest> ReadAsync(HttpRequest request)
    {
        using var raw = new MemoryStream();
        await request.Body.CopyToAsync(raw);
        int bodyBytes = (int)raw.Length;
        raw.Position = 0;
        string encoding = request.Headers.ContentEncoding.ToString();
        Stream body = encoding == "gzip" ? new GZipStream(raw, CompressionMode.Decompress) : raw;
        using var reader = new StreamReader(body);
        string json = await reader.ReadToEndAsync();
        using JsonDocument document = JsonDocument.Parse(json);
        JsonElement root = document.RootElement.Clone();
        IReadOnlyList<JsonElement> events = root.TryGetProperty("events", out JsonElement list) ? [.. list.EnumerateArray()] : [root];
        return new ReceivedRequest(request.Path, string.IsNullOrEmpty(encoding) ? null : encoding, request.Headers.Authorization.ToString() is { Length: > 0 } auth ? auth : null, bodyBytes, json, events);
    }
}
