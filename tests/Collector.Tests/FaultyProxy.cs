using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Instrumentation.Collector.Tests;

/// <summary>
/// A load balancer with a bad day, on 127.0.0.1: sends request n to backend n mod k (round robin) and, by a fixed plan,
/// answers some requests 502 without forwarding them, and forwards others but drops the connection instead of
/// relaying the answer (the events are stored; the uploader does not know it and sends them again).
/// </summary>
internal sealed class FaultyProxy : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly HttpClient _forward = new(new SocketsHttpHandler { AutomaticDecompression = DecompressionMethods.None });
    private readonly Uri[] _backends;
    private int _requests;

    private FaultyProxy(WebApplication app, Uri[] backends)
    {
        _app = app;
        _backends = backends;
    }

    public Uri Address { get; private set; } = null!;

    public int Refused;
    public int AnswersLost;
    public int Forwarded;

    /// <summary>Requests whose backend could not be reached (down, or killed mid-request): answered 502.</summary>
    public int Unreachable;

    /// <summary>Answers relayed, per backend address.</summary>
    public System.Collections.Concurrent.ConcurrentDictionary<Uri, int> ForwardedBy { get; } = new();

    /// <summary>Points slot <paramref name="index"/> of the round robin at another backend (a restarted instance).</summary>
    public void Replace(int index, Uri backend) => Volatile.Write(ref _backends[index], backend);

    public static async Task<FaultyProxy> StartAsync(params Uri[] backends)
    {
        WebApplicationBuilder builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Logging.ClearProviders();
        WebApplication app = builder.Build();
        var proxy = new FaultyProxy(app, backends);
        app.Run(proxy.HandleAsync);
        await app.StartAsync();
        proxy.Address = new Uri(app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First());
        return proxy;
    }

    private async Task HandleAsync(HttpContext context)
    {
        int n = Interlocked.Increment(ref _requests);
        Uri backend = Volatile.Read(ref _backends[n % _backends.Length]);
        using var body = new MemoryStream();
        await context.Request.Body.CopyToAsync(body, context.RequestAborted);
        if (n % 5 == 1)
        {
            Interlocked.Increment(ref Refused);
            context.Response.StatusCode = StatusCodes.Status502BadGateway;
            return;
        }

        using var request = new HttpRequestMessage(new HttpMethod(context.Request.Method), new Uri(backend, context.Request.Path + context.Request.QueryString))
        {
            Content = new ByteArrayContent(body.ToArray()),
        };
        if (context.Request.ContentType is { } contentType)
        {
            request.Content.Headers.TryAddWithoutValidation("Content-Type", contentType);
        }

        foreach (string? encoding in context.Request.Headers.ContentEncoding)
        {
            request.Content.Headers.ContentEncoding.Add(encoding!);
        }

        if (context.Request.Headers.Authorization.Count > 0)
        {
            request.Headers.TryAddWithoutValidation("Authorization", context.Request.Headers.Authorization.ToString());
        }

        HttpResponseMessage? answer = null;
        byte[] answerBody;
        try
        {
            answer = await _forward.SendAsync(request, context.RequestAborted);
            answerBody = await answer.Content.ReadAsByteArrayAsync(context.RequestAborted);
        }
        catch (Exception exception) when (exception is HttpRequestException or IOException && !context.RequestAborted.IsCancellationRequested)
        {
            // The backend is down, or died mid-request or mid-answer (HttpIOException, an IOException, when the headers came
            // but the body broke off; its events may or may not be stored): what a load balancer answers.
            answer?.Dispose();
            Interlocked.Increment(ref Unreachable);
            context.Response.StatusCode = StatusCodes.Status502BadGateway;
            return;
        }

        using HttpResponseMessage disposeAnswer = answer;
        if (n % 5 == 3)
        {
            Interlocked.Increment(ref AnswersLost);
            context.Abort(); // stored behind the proxy, but the uploader sees a broken connection
            return;
        }

        Interlocked.Increment(ref Forwarded);
        ForwardedBy.AddOrUpdate(backend, 1, (_, count) => count + 1);
        context.Response.StatusCode = (int)answer.StatusCode;
        if (answer.Content.Headers.ContentType is { } type)
        {
            context.Response.ContentType = type.ToString();
        }

        if (answer.Headers.RetryAfter is { } retryAfter)
        {
            context.Response.Headers.RetryAfter = retryAfter.ToString();
        }

        await context.Response.Body.WriteAsync(answerBody, context.RequestAborted);
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
        _forward.Dispose();
    }
}
