using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Instrumentation.Collector.Hosting;
using Instrumentation.Collector.Storage;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;
using Microsoft.Extensions.Options;

namespace Instrumentation.Collector.Tests;

/// <summary>The collector as an operator runs it: addresses, HTTPS, configuration checked at start, health.</summary>
public class HostingTests
{
    private static CancellationToken Cancel => TestContext.Current.CancellationToken;

    [Fact]
    public void Without_a_configured_address_it_listens_on_127_0_0_1_port_5080()
    {
        WebApplicationBuilder plain = CollectorApplication.CreateBuilder([]);
        WebApplicationBuilder withUrls = CollectorApplication.CreateBuilder(["--urls", "http://127.0.0.1:6001"]);
        WebApplicationBuilder withEndpoints = CollectorApplication.CreateBuilder(["--Kestrel:Endpoints:Main:Url=http://127.0.0.1:6002"]);
        WebApplicationBuilder withPorts = CollectorApplication.CreateBuilder(["--http_ports=6003"]); // as ASPNETCORE_HTTP_PORTS sets it

        Assert.Equal("http://127.0.0.1:5080", plain.Configuration["urls"]);
        Assert.Equal("http://127.0.0.1:6001", withUrls.Configuration["urls"]);
        Assert.Null(withEndpoints.Configuration["urls"]); // Kestrel:Endpoints decide, without a warning about overriding
        Assert.Null(withPorts.Configuration["urls"]);
    }

    [Fact]
    public async Task The_urls_argument_is_where_it_listens()
    {
        await using ServiceUnderTest service = await ServiceUnderTest.StartAsync(ServiceUnderTest.NewFolder(), ["--urls", "http://127.0.0.1:0"]);

        using HttpResponseMessage response = await service.Client.PostAsync("/logs", Json(TestCollector.Event(Guid.CreateVersion7(), priority: "immediate")), Cancel);

        Assert.Equal("127.0.0.1", service.Address.Host);
        Assert.NotEqual(5080, service.Address.Port);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    [Fact]
    public async Task Kestrel_limits_are_read_from_configuration()
    {
        await using ServiceUnderTest service = await ServiceUnderTest.StartAsync(ServiceUnderTest.NewFolder(), ["--urls", "http://127.0.0.1:0", "--Kestrel:Limits:MaxRequestHeaderCount=4"]);
        using var request = new HttpRequestMessage(HttpMethod.Get, "/health/live");
        for (int i = 0; i < 6; i++)
        {
            request.Headers.Add("X-Extra-" + i, "1");
        }

        using HttpResponseMessage response = await service.Client.SendAsync(request, Cancel);

        Assert.Equal(HttpStatusCode.RequestHeaderFieldsTooLarge, response.StatusCode);
    }

    [Fact]
    public async Task Kestrel_endpoints_serve_HTTPS_with_a_configured_certificate()
    {
        string folder = ServiceUnderTest.NewFolder();
        using X509Certificate2 certificate = SelfSigned();
        string path = Path.Combine(folder, "collector.pfx");
        await File.WriteAllBytesAsync(path, certificate.Export(X509ContentType.Pfx, "pfx-password"), Cancel);
        string? seen = null;
        var handler = new HttpClientHandler
        {
            ServerCertificateCustomValidationCallback = (_, presented, _, _) =>
            {
                seen = presented?.Thumbprint;
                return presented?.Thumbprint == certificate.Thumbprint; // trust exactly the certificate we configured
            },
        };

        await using ServiceUnderTest service = await ServiceUnderTest.StartAsync(
            folder,
            [
                "--Kestrel:Endpoints:Https:Url=https://127.0.0.1:0",
                $"--Kestrel:Endpoints:Https:Certificate:Path={path}",
                "--Kestrel:Endpoints:Https:Certificate:Password=pfx-password",
            ],
            handler: handler);
        using HttpResponseMessage upload = await service.Client.PostAsync("/logs", Json(TestCollector.Event(Guid.CreateVersion7(), priority: "immediate")), Cancel);
        using HttpResponseMessage ready = await service.Client.GetAsync("/health/ready", Cancel);

        Assert.Equal(Uri.UriSchemeHttps, service.Address.Scheme);
        Assert.Equal(certificate.Thumbprint, seen);
        Assert.Equal(HttpStatusCode.OK, upload.StatusCode);
        Assert.Equal(HttpStatusCode.OK, ready.StatusCode);
    }

    [Fact]
    public async Task Invalid_options_stop_the_start_with_a_message_for_each_setting()
    {
        var options = new CollectorOptions
        {
            DatabasePath = Path.Combine(ServiceUnderTest.NewFolder(), "events.db"),
            MaxEventDepth = 99,
            MaxRequestBytes = 0,
            ApiKeys = ["short"],
            ReadKeys = ["has a space in it, sadly"],
            Storage = { Provider = StorageProvider.PostgreSql },
        };

        var error = await Assert.ThrowsAsync<OptionsValidationException>(() => CollectorHost.StartAsync(options, cancellationToken: Cancel));

        Assert.Contains(error.Failures, f => f.StartsWith("Collector:MaxEventDepth must be from 2 to 60; got 99", StringComparison.Ordinal));
        Assert.Contains(error.Failures, f => f.StartsWith("Collector:MaxRequestBytes must be from", StringComparison.Ordinal));
        Assert.Contains(error.Failures, f => f.StartsWith("Collector:ApiKeys:0 is 5 characters long", StringComparison.Ordinal));
        Assert.Contains(error.Failures, f => f.StartsWith("Collector:ReadKeys:0 holds a space", StringComparison.Ordinal));
        Assert.Contains(error.Failures, f => f.StartsWith("Collector:Storage:ConnectionString is required", StringComparison.Ordinal));
    }

    [Fact]
    public async Task The_old_Collector_Url_setting_is_refused_with_the_way_to_set_the_address()
    {
        string folder = ServiceUnderTest.NewFolder();

        var error = await Assert.ThrowsAsync<OptionsValidationException>(() => ServiceUnderTest.StartAsync(folder, ["--urls", "http://127.0.0.1:0", "--Collector:Url=http://0.0.0.0:5080"]));

        Assert.Contains("--urls, ASPNETCORE_URLS or Kestrel:Endpoints", Assert.Single(error.Failures), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Readiness_fails_when_the_store_does_not_answer_while_liveness_holds()
    {
        await using ServiceUnderTest service = await ServiceUnderTest.StartAsync(
            ServiceUnderTest.NewFolder(),
            ["--urls", "http://127.0.0.1:0"],
            builder => builder.Services.Replace(ServiceDescriptor.Singleton<IEventStore>(new UnreachableStore())));

        using HttpResponseMessage ready = await service.Client.GetAsync("/health/ready", Cancel);
        using HttpResponseMessage live = await service.Client.GetAsync("/health/live", Cancel);

        Assert.Equal(HttpStatusCode.ServiceUnavailable, ready.StatusCode);
        Assert.Equal("Unhealthy", await ready.Content.ReadAsStringAsync(Cancel));
        Assert.Equal(HttpStatusCode.OK, live.StatusCode);
    }

    [Fact]
    public async Task Readiness_is_degraded_while_the_sqlite_rollups_cannot_be_written_and_healthy_again_after()
    {
        await using ServiceUnderTest service = await ServiceUnderTest.StartAsync(ServiceUnderTest.NewFolder(), ["--urls", "http://127.0.0.1:0"]);
        var store = (Storage.Sqlite.SqliteEventStore)service.Services.GetRequiredService<IEventStore>();
        Stores.RollupAudit.Execute(store.RollupPath, "CREATE TRIGGER fail_fold BEFORE INSERT ON event_minutes BEGIN SELECT RAISE(ABORT, 'fold refused'); END;");
        using (HttpResponseMessage upload = await service.Client.PostAsync("/logs/batch", Json(TestCollector.Batch(TestCollector.Event(Guid.CreateVersion7()))), Cancel))
        {
            Assert.Equal(HttpStatusCode.OK, upload.StatusCode);
        }

        await Assert.ThrowsAsync<Microsoft.Data.Sqlite.SqliteException>(() => store.FoldRollupsAsync(Cancel));
        using (HttpResponseMessage degraded = await service.Client.GetAsync("/health/ready", Cancel))
        {
            Assert.Equal(HttpStatusCode.OK, degraded.StatusCode); // uploads still work: it keeps its traffic
            Assert.Equal("Degraded", await degraded.Content.ReadAsStringAsync(Cancel));
        }

        Stores.RollupAudit.Execute(store.RollupPath, "DROP TRIGGER fail_fold;");
        await store.FoldRollupsAsync(Cancel);
        using HttpResponseMessage healthy = await service.Client.GetAsync("/health/ready", Cancel);
        Assert.Equal(HttpStatusCode.OK, healthy.StatusCode);
        Assert.Equal("Healthy", await healthy.Content.ReadAsStringAsync(Cancel));
    }

    [Fact]
    public async Task An_upload_the_store_cannot_take_is_503_with_Retry_After_so_the_uploader_keeps_its_events()
    {
        await using ServiceUnderTest service = await ServiceUnderTest.StartAsync(
            ServiceUnderTest.NewFolder(),
            ["--urls", "http://127.0.0.1:0"],
            builder => builder.Services.Replace(ServiceDescriptor.Singleton<IEventStore>(new UnreachableStore())));

        using HttpResponseMessage upload = await service.Client.PostAsync("/logs", Json(TestCollector.Event(Guid.CreateVersion7(), priority: "immediate")), Cancel);

        await InputTests.AssertProblemAsync(upload, HttpStatusCode.ServiceUnavailable);
        Assert.Equal(TimeSpan.FromSeconds(5), upload.Headers.RetryAfter?.Delta);
    }

    [Theory]
    [InlineData("/logs")]
    [InlineData("/stats")]
    [InlineData("/")]
    [InlineData("/events?ctx=net_id&value=s1")]
    [InlineData("/activity?ctx=net_id&value=s1")]
    [InlineData("/tail/rows")]
    public async Task A_read_the_store_cannot_answer_is_503_with_Retry_After(string path)
    {
        await using ServiceUnderTest service = await ServiceUnderTest.StartAsync(
            ServiceUnderTest.NewFolder(),
            ["--urls", "http://127.0.0.1:0"],
            builder => builder.Services.Replace(ServiceDescriptor.Singleton<IEventStore>(new UnreachableStore())));

        using HttpResponseMessage read = await service.Client.GetAsync(path, Cancel);

        // Was 500: a database outage passes, and a client (or a load balancer) should retry it, not give up.
        await InputTests.AssertProblemAsync(read, HttpStatusCode.ServiceUnavailable);
        Assert.Equal(TimeSpan.FromSeconds(5), read.Headers.RetryAfter?.Delta);
    }

    [Fact]
    public async Task A_dashboard_page_the_store_cannot_answer_logs_the_failure()
    {
        // The exception handler middleware records nothing for an exception an IExceptionHandler handled (.NET 10), so
        // the 503 handler logs it itself: an outage must leave a trace.
        var logs = new FakeLoggerProvider();
        await using ServiceUnderTest service = await ServiceUnderTest.StartAsync(
            ServiceUnderTest.NewFolder(),
            ["--urls", "http://127.0.0.1:0"],
            builder =>
            {
                builder.Logging.AddProvider(logs);
                builder.Services.Replace(ServiceDescriptor.Singleton<IEventStore>(new UnreachableStore()));
            });

        using HttpResponseMessage read = await service.Client.GetAsync("/activity?ctx=net_id&value=s1", Cancel);

        Assert.Equal(HttpStatusCode.ServiceUnavailable, read.StatusCode);
        Assert.Contains(logs.Collector.GetSnapshot(), r => r.Level == LogLevel.Error && r.Exception is IOException);
    }

    [Fact]
    public async Task An_ObjectDisposedException_while_the_collector_runs_is_a_bug_and_stays_500()
    {
        // Only while the application stops is a disposed object the store shutting down; otherwise it is code that used a
        // disposed object, and a 503 with Retry-After would hide it behind "ask again".
        await using ServiceUnderTest service = await ServiceUnderTest.StartAsync(
            ServiceUnderTest.NewFolder(),
            ["--urls", "http://127.0.0.1:0"],
            builder => builder.Services.Replace(ServiceDescriptor.Singleton<IEventStore>(new UnreachableStore(() => new ObjectDisposedException("SomethingElse")))));

        using HttpResponseMessage read = await service.Client.GetAsync("/activity?ctx=net_id&value=s1", Cancel);

        Assert.Equal(HttpStatusCode.InternalServerError, read.StatusCode);
    }

    [Fact]
    public async Task Readiness_answers_when_the_store_does()
    {
        await using TestCollector collector = await TestCollector.StartAsync(o => o.ApiKeys = ["a-key-that-is-long-enough"]);

        using HttpResponseMessage ready = await collector.Client.GetAsync("/health/ready", Cancel);
        using HttpResponseMessage live = await collector.Client.GetAsync("/health/live", Cancel);

        Assert.Equal(HttpStatusCode.OK, ready.StatusCode); // open to probes without a key
        Assert.Equal("Healthy", await ready.Content.ReadAsStringAsync(Cancel));
        Assert.Equal(HttpStatusCode.OK, live.StatusCode);
    }

    private static StringContent Json(string json) => new(json, System.Text.Encoding.UTF8, "application/json");

    private static X509Certificate2 SelfSigned()
    {
        using var key = RSA.Create(2048);
        var request = new CertificateRequest("CN=127.0.0.1", key, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        var names = new SubjectAlternativeNameBuilder();
        names.AddIpAddress(IPAddress.Loopback);
        request.CertificateExtensions.Add(names.Build());
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.1")], critical: false)); // server authentication
        return request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(1));
    }

    /// <summary>A store whose database is gone: it starts, and then never answers.</summary>
    /// <summary>A store whose every call fails with <paramref name="failure"/>'s exception (default: connection refused).</summary>
    private sealed class UnreachableStore(Func<Exception>? failure = null) : IEventStore
    {
        private Exception Failure() => failure?.Invoke() ?? new IOException("connection refused");

        public string Provider => "Unreachable";

        public Task InitializeAsync(CancellationToken cancellationToken) => Task.CompletedTask;

        public Task PingAsync(CancellationToken cancellationToken) => Task.FromException(Failure());

        public Task<InsertResult> InsertAsync(IReadOnlyList<StoredEvent> events, CancellationToken cancellationToken) => throw Failure();

        public IAsyncEnumerable<EventRow> ReadAsync(EventQuery query, CancellationToken cancellationToken) => throw Failure();

        public IAsyncEnumerable<EventCountBucket> CountByTimeAsync(EventCountQuery query, CancellationToken cancellationToken) => throw Failure();

        public Task<StoreStatistics> GetStatisticsAsync(CancellationToken cancellationToken) => throw Failure();

        public Instrumentation.Collector.Dashboard.Queries.IDashboardQueries Dashboard => throw Failure();

        public ValueTask DisposeAsync() => ValueTask.CompletedTask;
    }
}
