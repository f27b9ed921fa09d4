using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.IO.Compression;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Instrumentation.Benchmarks;

/// <summary>
/// An HTTP proxy on 127.0.0.1 in front of a receiver (the real collector) that injects the faults of a bad network:
/// 503 and 429 with <c>Retry-After</c> in seconds or as an HTTP date, 500, connections dropped before the request is
/// forwarded, answers lost after the receiver stored the batch, and 2 s stalls. During an outage every connection is
/// dropped. The choice of fault is random with a fixed seed, so runs are comparable.
/// </summary>
internal sealed class FaultProxy : IAsyncDisposable
{
    /// <summary>The kinds of fault, with the name the report prints.</summary>
    public static readonly string[] FaultNames =
    [
        "503 Retry-After seconds", "503 Retry-After date", "429 Retry-After seconds", "429 Retry-After date", "500",
        "dropped connection", "answer lost after store", "2 s stall (then forwarded)", "outage: dropped",
    ];

    public const int Outage = 8;
    public const int Stall = 7;

    private readonly WebApplication _app;
    private readonly HttpClient _upstream;
    private readonly Uri _target;
    private readonly Random _random;
    private readonly ConcurrentDictionary<int, long> _faults = new();
    private readonly ConcurrentQueue<ProxiedRequest> _trace = new();
    private long _requests;
    private long _forwarded;
    private long _outageUntilTicks;

    private FaultProxy(WebApplication app, Uri target, int seed)
    {
        _app = app;
        _target = target;
        _random = new Random(seed);
        _upstream = new HttpClient(new SocketsHttpHandler { AutomaticDecompression = System.Net.DecompressionMethods.None, UseProxy = false })
        {
            Timeout = TimeSpan.FromSeconds(60),
        };
    }

    /// <summary>The proxy's address: point the uploader here.</summary>
    public Uri Address { get; private set; } = null!;

    /// <summary>The share of requests that fail (503, 429, 500, dropped, answer lost), split evenly between those kinds.</summary>
    public double FailureRate { get; init; } = 0.40;

    /// <summary>The share of requests stalled for 2 s before they are forwarded (on top of <see cref="FailureRate"/>).</summary>
    public double StallRate { get; init; } = 0.08;

    /// <summary>How the failing kinds are weighted (<see cref="FaultMix"/>).</summary>
    public FaultMix Mix { get; init; } = FaultMix.Weighted;

    /// <summary>Requests that reached the proxy.</summary>
    public long Requests => Interlocked.Read(ref _requests);

    /// <summary>Requests forwarded to the receiver (including those whose answer was then lost).</summary>
    public long Forwarded => Interlocked.Read(ref _forwarded);

    /// <summary>How many requests got each fault, by <see cref="FaultNames"/>.</summary>
    public IReadOnlyDictionary<string, long> Faults => _faults.ToDictionary(f => FaultNames[f.Key], f => f.Value);

    /// <summary>Whether each request is recorded (<see cref="Trace"/>): its body is then read first, to count its events.</summary>
    public bool Tracing { get; init; }

    /// <summary>With <see cref="Tracing"/>: every request, when it arrived and was answered (Stopwatch timestamps), its answer and events.</summary>
    public IReadOnlyList<ProxiedRequest> Trace => [.. _trace];

    /// <summary>Until when every connection is dropped.</summary>
    public DateTimeOffset OutageUntil
    {
        get => new(Interlocked.Read(ref _outageUntilTicks), TimeSpan.Zero);
        set => Interlocked.Exchange(ref _outageUntilTicks, value.UtcTicks);
    }

    public static async Task<FaultProxy> StartAsync(Uri target, int seed, double failureRate = 0.40, double stallRate = 0.08, bool tracing = false, FaultMix mix = FaultMix.Weighted)
    {
        WebApplicationBuilder builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.WebHost.ConfigureKestrel(k => k.Limits.MaxRequestBodySize = null);
        builder.Logging.ClearProviders();
        WebApplication app = builder.Build();
        var proxy = new FaultProxy(app, target, seed) { FailureRate = failureRate, StallRate = stallRate, Tracing = tracing, Mix = mix };
        app.Run(proxy.HandleAsync);
        await app.StartAsync();
        proxy.Address = new Uri(app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First());
        return proxy;
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
        _upstream.Dispose();
    }

    private int Pick()
    {
        lock (_random)
        {
            return Choose(_random, FailureRate, StallRate, Mix);
        }
    }

    /// <summary>
    /// The fault for the next request (an index of <see cref="FaultNames"/>, or -1 for none): the proxy's one rule, also
    /// used by <see cref="FaultFloor"/> to replay a seed's sequence.
    /// </summary>
    public static int Choose(Random random, double failureRate, double stallRate, FaultMix mix = FaultMix.Weighted)
    {
        if (mix == FaultMix.Listed)
        {
            return ChooseListed(random, failureRate);
        }

        double roll = random.NextDouble();
        int kind = random.Next(7);
        if (roll < failureRate)
        {
            return kind; // 0..6: one of the failing kinds, evenly
        }

        return roll < failureRate + stallRate ? Stall : -1;
    }

    /// <summary>
    /// <see cref="FaultMix.Listed"/>: the six kinds the issue lists (503 with <c>Retry-After</c>, 429 with
    /// <c>Retry-After</c>, 500, a dropped connection, an answer lost after the store, a 2 s stall) evenly within
    /// <paramref name="failureRate"/>, each <c>Retry-After</c> in seconds or as a date at random; no stalls beyond it.
    /// </summary>
    private static int ChooseListed(Random random, double failureRate)
    {
        double roll = random.NextDouble();
        int kind = random.Next(6);
        int form = random.Next(2);
        if (roll >= failureRate)
        {
            return -1;
        }

        return kind switch
        {
            0 => form, // 503, Retry-After in seconds (0) or as a date (1)
            1 => 2 + form, // 429, the same two forms
            2 => 4, // 500
            3 => 5, // dropped connection
            4 => 6, // answer lost after the store
            _ => Stall,
        };
    }

    private void Count(int fault) => _faults.AddOrUpdate(fault, 1, static (_, n) => n + 1);

    private async Task HandleAsync(HttpContext context)
    {
        long arrived = Stopwatch.GetTimestamp();
        Interlocked.Increment(ref _requests);
        if (DateTimeOffset.UtcNow < OutageUntil)
        {
            Count(Outage);
            context.Abort();
            Record(arrived, Outage, 0, -1, null);
            return;
        }

        byte[]? body = null;
        int events = -1;
        if (Tracing)
        {
            using var buffer = new MemoryStream();
            await context.Request.Body.CopyToAsync(buffer);
            body = buffer.ToArray();
            events = CountEvents(context, body);
        }

        int fault = Pick();
        try
        {
            await AnswerAsync(context, fault, body);
        }
        finally
        {
            Record(arrived, fault, context.Response.StatusCode, events, context.Response.Headers.RetryAfter.ToString());
        }
    }

    private void Record(long arrived, int fault, int status, int events, string? retryAfter)
    {
        if (Tracing)
        {
            long answered = Stopwatch.GetTimestamp();
            long pausedUntil = 0;
            if (!string.IsNullOrEmpty(retryAfter))
            {
                TimeSpan wait = int.TryParse(retryAfter, NumberStyles.None, CultureInfo.InvariantCulture, out int seconds)
                    ? TimeSpan.FromSeconds(seconds)
                    : DateTimeOffset.ParseExact(retryAfter, "R", CultureInfo.InvariantCulture) - DateTimeOffset.UtcNow;
                pausedUntil = answered + (long)(Math.Max(1, wait.TotalSeconds) * Stopwatch.Frequency);
            }

            _trace.Enqueue(new ProxiedRequest(arrived, answered, fault < 0 ? $"forwarded: {status}" : fault == Stall ? $"{FaultNames[fault]}: {status}" : FaultNames[fault], events, pausedUntil));
        }
    }

    /// <summary>How many events a request carries: one for <c>/logs</c>, the <c>events</c> array's length for a batch.</summary>
    private static int CountEvents(HttpContext context, byte[] body)
    {
        try
        {
            byte[] json = body;
            if (context.Request.Headers.ContentEncoding.ToString().Contains("gzip", StringComparison.OrdinalIgnoreCase))
            {
                using var gzip = new GZipStream(new MemoryStream(body), CompressionMode.Decompress);
                using var plain = new MemoryStream();
                gzip.CopyTo(plain);
                json = plain.ToArray();
            }

            using JsonDocument document = JsonDocument.Parse(json);
            return document.RootElement.TryGetProperty("events", out JsonElement list) ? list.GetArrayLength() : 1;
        }
        catch (Exception exception) when (exception is JsonException or InvalidDataException)
        {
            return -1;
        }
    }

    private async Task AnswerAsync(HttpContext context, int fault, byte[]? body)
    {
        switch (fault)
        {
            case 0 or 1 or 2 or 3:
                Count(fault);
                context.Response.StatusCode = fault < 2 ? StatusCodes.Status503ServiceUnavailable : StatusCodes.Status429TooManyRequests;
                context.Response.Headers.RetryAfter = fault % 2 == 0
                    ? "1"
                    : DateTimeOffset.UtcNow.AddSeconds(2).ToString("R", CultureInfo.InvariantCulture);
                await context.Response.WriteAsync("fault injected by the proxy");
                return;
            case 4:
                Count(fault);
                context.Response.StatusCode = StatusCodes.Status500InternalServerError;
                await context.Response.WriteAsync("fault injected by the proxy");
                return;
            case 5:
                Count(fault);
                context.Abort();
                return;
            case 6:
                // The receiver stores the batch; the client never hears so and sends it again.
                Count(fault);
                using (await ForwardAsync(context, body))
                {
                }

                context.Abort();
                return;
            case Stall:
                Count(fault);
                await Task.Delay(TimeSpan.FromSeconds(2));
                break;
        }

        using HttpResponseMessage answer = await ForwardAsync(context, body);
        context.Response.StatusCode = (int)answer.StatusCode;
        if (answer.Headers.RetryAfter is { } retryAfter)
        {
            context.Response.Headers.RetryAfter = retryAfter.ToString();
        }

        if (answer.Content.Headers.ContentType is { } contentType)
        {
            context.Response.ContentType = contentType.ToString();
        }

        await answer.Content.CopyToAsync(context.Response.Body);
    }

    private async Task<HttpResponseMessage> ForwardAsync(HttpContext context, byte[]? read)
    {
        Interlocked.Increment(ref _forwarded);
        if (read is null)
        {
            using var body = new MemoryStream();
            await context.Request.Body.CopyToAsync(body);
            read = body.ToArray();
        }

        var request = new HttpRequestMessage(new HttpMethod(context.Request.Method), new Uri(_target, context.Request.Path + context.Request.QueryString))
        {
            Content = new ByteArrayContent(read),
        };
        if (context.Request.ContentType is { } type)
        {
            request.Content.Headers.TryAddWithoutValidation("Content-Type", type);
        }

        if (context.Request.Headers.ContentEncoding.Count > 0)
        {
            request.Content.Headers.TryAddWithoutValidation("Content-Encoding", context.Request.Headers.ContentEncoding.ToString());
        }

        if (context.Request.Headers.Authorization.Count > 0)
        {
            request.Headers.TryAddWithoutValidation("Authorization", context.Request.Headers.Authorization.ToString());
        }

        using (request)
        {
            HttpResponseMessage answer = await _upstream.SendAsync(request);
            await answer.Content.LoadIntoBufferAsync();
            return answer;
        }
    }
}

/// <summary>One request through the proxy: Stopwatch timestamps of its arrival and answer, the answer, its events (-1: unknown).</summary>
/// <param name="PausedUntil">For a <c>Retry-After</c> answer: the Stopwatch timestamp it asks the client to wait until (at least 1 s, the uploader's MinRetryAfter); else 0.</param>
internal sealed record ProxiedRequest(long Arrived, long Answered, string Answer, int Events, long PausedUntil);

/// <summary>How the proxy weights its failing kinds.</summary>
internal enum FaultMix
{
    /// <summary>
    /// The default and the heavier mix: 40 % of requests fail, evenly among seven kinds of which four carry
    /// <c>Retry-After</c> (503 and 429, each in seconds and as a date), so ~23 % of all requests pause the endpoint;
    /// another 8 % stall 2 s and are then forwarded.
    /// </summary>
    Weighted,

    /// <summary>
    /// The issue's list taken item by item: 40 % of requests fail, evenly among six kinds (503 with Retry-After, 429
    /// with Retry-After, 500, dropped connection, answer lost after the store, 2 s stall), so ~13 % carry Retry-After.
    /// </summary>
    Listed,
}
