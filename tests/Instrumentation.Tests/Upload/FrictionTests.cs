using System.Diagnostics.Metrics;
using Instrumentation.Tests.Subjects;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;
using Microsoft.Extensions.Options;

namespace Instrumentation.Tests.Upload;

/// <summary>What an ASP.NET Core user tripped on (issue 9, item 3), each pinned down.</summary>
public class FrictionTests
{
    [Fact]
    public async Task The_uploaders_HttpClient_does_not_log_each_request()
    {
        await using ScriptedCollector collector = await ScriptedCollector.StartAsync();
        HostApplicationBuilder builder = Host.CreateApplicationBuilder();
        builder.Logging.ClearProviders().SetMinimumLevel(LogLevel.Trace).AddFakeLogging();
        builder.Services.AddInstrumentation(o =>
        {
            o.Endpoint = collector.Endpoint;
            o.FlushOnProcessExit = false;
        });
        builder.Services.AddHttpClient("someone-elses"); // other clients keep their logging

        using IHost host = builder.Build();
        await host.StartAsync(TestContext.Current.CancellationToken);
        LogManager manager = host.Services.GetRequiredService<LogManager>();
        for (int i = 0; i < 3; i++)
        {
            manager.AddLog(UploadHarness.Immediate(index: i));
        }

        await manager.FlushAsync(TestContext.Current.CancellationToken);
        using (HttpClient other = host.Services.GetRequiredService<IHttpClientFactory>().CreateClient("someone-elses"))
        {
            await other.GetAsync(collector.Endpoint, TestContext.Current.CancellationToken);
        }

        await host.StopAsync(TestContext.Current.CancellationToken);

        Assert.True(collector.Received.Count >= 3);
        IReadOnlyList<FakeLogRecord> logged = host.Services.GetFakeLogCollector().GetSnapshot();
        Assert.DoesNotContain(logged, r => r.Category?.StartsWith("System.Net.Http.HttpClient.Instrumentation", StringComparison.Ordinal) == true);
        Assert.Contains(logged, r => r.Category?.StartsWith("System.Net.Http.HttpClient.someone-elses", StringComparison.Ordinal) == true);
    }

    [Theory]
    [InlineData("127.0.0.1:5080")]
    [InlineData("localhost:5080")]
    [InlineData("collector.example")]
    public void An_environment_endpoint_without_a_scheme_is_named_with_what_to_write(string value)
    {
        ValidateOptionsResult result = WithEndpointVariable(value, () => new LogManagerOptionsValidator().Validate(null, new LogManagerOptions()));

        string failure = Assert.Single(result.Failures!);
        Assert.Contains("INSTRUMENTATION_ENDPOINT", failure, StringComparison.Ordinal);
        Assert.Contains("'" + value + "'", failure, StringComparison.Ordinal);
        Assert.Contains("http://" + value, failure, StringComparison.Ordinal);
        Assert.DoesNotContain("is required", failure, StringComparison.Ordinal);
    }

    [Fact]
    public void The_resolved_endpoint_is_visible_on_the_manager_and_in_its_statistics()
    {
        WithEndpointVariable("http://127.0.0.1:5999/", () =>
        {
            using var manager = new LogManager(new LogManagerOptions { FlushOnProcessExit = false }, null, null, null, null);

            Assert.Equal(new Uri("http://127.0.0.1:5999/"), manager.Endpoint);
            Assert.Equal(new Uri("http://127.0.0.1:5999/"), manager.GetStatistics().Endpoint);
            return 0;
        });
    }

    [Theory]
    [InlineData("MaxWaitTime", "30")]
    [InlineData("RequestTimeout", "30")]
    [InlineData("ShutdownTimeout", "5")]
    [InlineData("RetryBaseDelay", "1")]
    [InlineData("RetryMaxDelay", "300")]
    [InlineData("MinRetryAfter", "1")]
    [InlineData("MaxRetryAfter", "600")]
    public void A_bare_number_for_a_time_binds_to_days_and_fails_validation_saying_so(string option, string value)
    {
        IConfiguration configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Instrumentation:Endpoint"] = "http://127.0.0.1:5080",
            ["Instrumentation:" + option] = value,
        }).Build();
        var services = new ServiceCollection();
        services.AddInstrumentation(configuration.GetSection("Instrumentation"));
        using ServiceProvider provider = services.BuildServiceProvider();

        var error = Assert.Throws<OptionsValidationException>(() => provider.GetRequiredService<IOptions<LogManagerOptions>>().Value);

        string failure = Assert.Single(error.Failures, f => f.StartsWith(option + " ", StringComparison.Ordinal));
        Assert.StartsWith(option + " must be at most ", failure, StringComparison.Ordinal);
        Assert.Contains($"it is {value}.00:00:00", failure, StringComparison.Ordinal);
        Assert.Contains("read as days", failure, StringComparison.Ordinal);
    }

    [Fact]
    public void Time_options_at_their_documented_limits_are_valid()
    {
        var options = new LogManagerOptions
        {
            Endpoint = new Uri("http://127.0.0.1:5080"),
            MaxWaitTime = TimeSpan.FromHours(1),
            ShutdownTimeout = TimeSpan.FromMinutes(10),
            RequestTimeout = TimeSpan.FromMinutes(10),
            RetryBaseDelay = TimeSpan.FromMinutes(1),
            RetryMaxDelay = TimeSpan.FromHours(1),
            MinRetryAfter = TimeSpan.FromMinutes(1),
            MaxRetryAfter = TimeSpan.FromHours(1),
            SpoolDirectory = "spool",
            SpoolFlushInterval = TimeSpan.FromMinutes(1),
            MaxSpoolAge = TimeSpan.FromDays(365),
        };

        Assert.True(new LogManagerOptionsValidator().Validate(null, options).Succeeded);

        options.MaxSpoolAge += TimeSpan.FromTicks(1);
        Assert.Contains("MaxSpoolAge must be at most 365.00:00:00", Assert.Single(new LogManagerOptionsValidator().Validate(null, options).Failures!), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_network_error_is_logged_without_an_HTTP_status_and_with_the_right_plural()
    {
        var logs = new FakeLogCollector();
        using var loggerFactory = LoggerFactory.Create(b => b.AddProvider(new FakeLoggerProvider(logs)));
        await using UploadHarness harness = await UploadHarness.StartAsync(loggerFactory: loggerFactory);
        harness.Collector.ThenDropConnection();

        harness.Manager.AddLog(UploadHarness.Immediate());
        await harness.WaitForRetried(1);

        string warning = Assert.Single(logs.GetSnapshot(), r => r.Level == LogLevel.Warning).Message;
        Assert.DoesNotContain("HTTP 0", warning, StringComparison.Ordinal);
        Assert.Contains("no answer", warning, StringComparison.Ordinal);
        Assert.Contains("the request's 1 event is retried", warning, StringComparison.Ordinal);
        Assert.Contains("1 event waiting in all", warning, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_failed_batch_is_logged_with_its_own_events_and_every_event_that_waits()
    {
        var logs = new FakeLogCollector();
        using var loggerFactory = LoggerFactory.Create(b => b.AddProvider(new FakeLoggerProvider(logs)));
        await using UploadHarness harness = await UploadHarness.StartAsync(o => { o.MaxBatchSize = 2; o.MaxBacklogBatchSize = 2; }, loggerFactory: loggerFactory);
        var answer = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);

        // Every request waits until all five events are taken, then fails: however many batches are in flight at
        // once, none is delivered, so all five wait when the first failure is logged.
        harness.Collector.Default = async (context, _) =>
        {
            await answer.Task;
            context.Response.StatusCode = 500;
            return false;
        };

        for (int i = 0; i < 5; i++)
        {
            harness.Manager.AddLog(UploadHarness.Batch(index: i));
        }

        await harness.WaitForRequests(1);
        await UploadHarness.WaitUntil(() => harness.Manager.GetStatistics().EventsRecorded == 5, "the loop took all five events");
        answer.SetResult();
        await harness.WaitForRetried(2);

        string warning = logs.GetSnapshot().First(r => r.Level == LogLevel.Warning).Message;
        Assert.Contains("HTTP 500", warning, StringComparison.Ordinal);
        Assert.Contains("the request's 2 events are retried", warning, StringComparison.Ordinal);
        Assert.Contains("5 events waiting in all", warning, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_spool_gauge_is_published_only_in_durable_mode()
    {
        string spool = Path.Combine(Path.GetTempPath(), "inst-gauge-" + Guid.NewGuid().ToString("N"));
        try
        {
            await using (UploadHarness memory = await UploadHarness.StartAsync())
            await using (UploadHarness durable = await UploadHarness.StartAsync(o => o.SpoolDirectory = spool))
            {
                Assert.DoesNotContain("instrumentation.spool.bytes", PublishedOn(memory.Manager.Meter));
                Assert.Contains("instrumentation.spool.bytes", PublishedOn(durable.Manager.Meter));
                Assert.Contains("instrumentation.queue.depth", PublishedOn(memory.Manager.Meter));
            }
        }
        finally
        {
            Directory.Delete(spool, recursive: true);
        }
    }

    private static List<string> PublishedOn(Meter meter)
    {
        var names = new List<string>();
        using var listener = new MeterListener
        {
            InstrumentPublished = (instrument, _) =>
            {
                if (instrument.Meter == meter)
                {
                    names.Add(instrument.Name);
                }
            },
        };
        listener.Start();
        return names;
    }

    private static T WithEndpointVariable<T>(string? value, Func<T> action)
    {
        // Tests that set this variable run in this class only, one at a time (xunit runs a class's tests serially).
        string? saved = Environment.GetEnvironmentVariable(LogManagerOptions.EndpointEnvironmentVariable);
        Environment.SetEnvironmentVariable(LogManagerOptions.EndpointEnvironmentVariable, value);
        try
        {
            return action();
        }
        finally
        {
            Environment.SetEnvironmentVariable(LogManagerOptions.EndpointEnvironmentVariable, saved);
        }
    }
}
