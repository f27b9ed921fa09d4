using System.IO.Compression;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Instrumentation.Collector.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;

namespace Instrumentation.Collector.Tests;

/// <summary>A collector on 127.0.0.1 (port 0) over a fresh SQLite file in a temporary folder.</summary>
internal sealed class TestCollector : IAsyncDisposable
{
    private readonly string _folder;

    private TestCollector(string folder, RunningCollector running, CollectorOptions options)
    {
        _folder = folder;
        Running = running;
        Options = options;
        Client = new HttpClient { BaseAddress = running.Address };
    }

    public RunningCollector Running { get; private set; }

    public CollectorOptions Options { get; }

    /// <summary>What the server logged (a 500 would log an error).</summary>
    public FakeLoggerProvider Logs { get; private init; } = new();

    /// <summary>Fails when the server logged an error (an unhandled exception, a 5xx).</summary>
    public void AssertNoErrorsLogged()
    {
        string[] errors = [.. Logs.Collector.GetSnapshot().Where(r => r.Level >= Microsoft.Extensions.Logging.LogLevel.Error).Select(r => r.Category + ": " + r.Message + " " + r.Exception)];
        Assert.True(errors.Length == 0, "the server logged errors: " + string.Join(Environment.NewLine, errors));
    }

    public HttpClient Client { get; private set; }

    public string DatabasePath => Options.DatabasePath;

    public static async Task<TestCollector> StartAsync(Action<CollectorOptions>? configure = null)
    {
        string folder = Directory.CreateTempSubdirectory("instrumentation-collector-").FullName;
        var options = new CollectorOptions { DatabasePath = Path.Combine(folder, "events.db") };
        configure?.Invoke(options);
        var logs = new FakeLoggerProvider();
        RunningCollector running = await CollectorHost.StartAsync(options, configureLogging: logging => logging.AddProvider(logs));
        return new TestCollector(folder, running, options) { Logs = logs };
    }

    /// <summary>Stops the server (the database stays) and starts it again on the same port.</summary>
    public async Task StopAsync() => await Running.DisposeAsync();

    public async Task RestartAsync()
    {
        Running = await CollectorHost.StartAsync(Options, Running.Address.ToString(), logging => { });
        Client.Dispose();
        Client = new HttpClient { BaseAddress = Running.Address };
    }

    public Task<HttpResponseMessage> PostAsync(string path, string json, string contentType = "application/json", bool gzip = false, string? apiKey = null)
    {
        byte[] body = Encoding.UTF8.GetBytes(json);
        if (gzip)
        {
            using var output = new MemoryStream();
            using (var zip = new GZipStream(output, CompressionLevel.Fastest))
            {
                zip.Write(body);
            }

            body = output.ToArray();
        }

        var content = new ByteArrayContent(body);
        content.Headers.ContentType = MediaTypeHeaderValue.Parse(contentType);
        if (gzip)
        {
            content.Headers.ContentEncoding.Add("gzip");
        }

        var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = content };
        if (apiKey is not null)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", apiKey);
        }

        return Client.SendAsync(request);
    }

    public static async Task<JsonElement> JsonOf(HttpResponseMessage response)
    {
        string text = await response.Content.ReadAsStringAsync();
        return JsonDocument.Parse(text).RootElement.Clone();
    }

    public static string Event(Guid? id = null, string type = "cell", string? timestamp = "2026-11-29T12:00:00.0000000Z", string priority = "batch", string data = """{"notebook_id":"nb-1"}""") =>
        "{" + string.Join(",", new[]
        {
            id is null ? null : $"\"id\":\"{id}\"",
            $"\"type\":\"{type}\"",
            $"\"priority\":\"{priority}\"",
            timestamp is null ? null : $"\"timestamp\":\"{timestamp}\"",
            $"\"data\":{data}",
        }.Where(p => p is not null)) + "}";

    public static string Batch(params string[] events) => "{\"events\":[" + string.Join(",", events) + "]}";

    public async ValueTask DisposeAsync()
    {
        Client.Dispose();
        await Running.DisposeAsync();
        try
        {
            Directory.Delete(_folder, recursive: true);
        }
        catch (IOException)
        {
            // A leftover temporary folder is not a test failure.
        }
    }
}
