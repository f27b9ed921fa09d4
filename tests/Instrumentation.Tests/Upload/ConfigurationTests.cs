using Instrumentation.Tests.Subjects;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;

namespace Instrumentation.Tests.Upload;

/// <summary>Options, validation, configuration binding and the host integration.</summary>
[Collection(HubCollection.Name)]
public class ConfigurationTests
{
    [Fact]
    public void Defaults_match_the_documentation()
    {
        var options = new LogManagerOptions();

        Assert.Equal(50, options.MaxBatchSize);
        Assert.Equal(512 * 1024, options.MaxBatchBytes);
        Assert.Equal(TimeSpan.FromSeconds(30), options.MaxWaitTime);
        Assert.Equal(TimeSpan.FromSeconds(5), options.ShutdownTimeout);
        Assert.Equal(1024, options.CompressionThreshold);
        Assert.True(options.EnableCompression);
        Assert.Equal(1000, options.MaxBacklogBatchSize);
        Assert.Equal(4, options.MaxConcurrentBatchUploads);
    }

    [Fact]
    public void Batch_limits_beyond_the_collector_s_fail_with_the_limit_named()
    {
        var options = new LogManagerOptions
        {
            Endpoint = new Uri("http://127.0.0.1:5080"),
            MaxBacklogBatchSize = 5_000,
            MaxConcurrentBatchUploads = 0,
            MaxBatchBytes = 2 * 1024 * 1024,
            MaxQueuedBytes = 64L * 1024 * 1024,
        };

        ValidateOptionsResult result = new LogManagerOptionsValidator().Validate(null, options);

        Assert.Contains(result.Failures!, f => f.Contains("MaxBacklogBatchSize must be between 1 and 1000", StringComparison.Ordinal));
        Assert.Contains(result.Failures!, f => f.Contains("MaxConcurrentBatchUploads must be greater than 0", StringComparison.Ordinal));
        Assert.Contains(result.Failures!, f => f.Contains("MaxBatchBytes must not exceed 1048576", StringComparison.Ordinal));
    }

    [Fact]
    public void Invalid_options_fail_at_start_with_messages_that_say_what_to_change()
    {
        var options = new LogManagerOptions { MaxBatchSize = 0, MaxWaitTime = TimeSpan.Zero, Endpoint = new Uri("ftp://127.0.0.1/") };

        var error = Assert.Throws<OptionsValidationException>(() => LogManager.Start(options));

        Assert.Contains(error.Failures, f => f.Contains("MaxBatchSize must be greater than 0", StringComparison.Ordinal));
        Assert.Contains(error.Failures, f => f.Contains("MaxWaitTime must be longer than zero", StringComparison.Ordinal));
        Assert.Contains(error.Failures, f => f.Contains("must be an absolute http or https address", StringComparison.Ordinal));
        Assert.False(LogEventHub.IsAttached);
    }

    [Fact]
    public void Missing_endpoint_names_the_setting_and_the_environment_variable()
    {
        string? saved = Environment.GetEnvironmentVariable(LogManagerOptions.EndpointEnvironmentVariable);
        Environment.SetEnvironmentVariable(LogManagerOptions.EndpointEnvironmentVariable, null);
        try
        {
            var error = Assert.Throws<OptionsValidationException>(() => LogManager.Start(new LogManagerOptions()));

            Assert.Contains("INSTRUMENTATION_ENDPOINT", error.Message, StringComparison.Ordinal);
        }
        finally
        {
            Environment.SetEnvironmentVariable(LogManagerOptions.EndpointEnvironmentVariable, saved);
        }
    }

    [Fact]
    public async Task Endpoint_falls_back_to_the_environment_variable()
    {
        await using ScriptedCollector collector = await ScriptedCollector.StartAsync();
        string? saved = Environment.GetEnvironmentVariable(LogManagerOptions.EndpointEnvironmentVariable);
        Environment.SetEnvironmentVariable(LogManagerOptions.EndpointEnvironmentVariable, collector.Endpoint.ToString());
        try
        {
            await using (LogManager manager = LogManager.Start(new LogManagerOptions { FlushOnProcessExit = false }))
            {
                manager.AddLog(UploadHarness.Immediate());
                await manager.FlushAsync(TestContext.Current.CancellationToken);
            }

            Assert.Single(collector.Received);
        }
        finally
        {
            Environment.SetEnvironmentVariable(LogManagerOptions.EndpointEnvironmentVariable, saved);
        }
    }

    [Fact]
    public async Task Host_binds_the_Instrumentation_section_starts_the_manager_and_flushes_at_stop()
    {
        await using ScriptedCollector collector = await ScriptedCollector.StartAsync();
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Instrumentation:Endpoint"] = collector.Endpoint.ToString(),
            ["Instrumentation:ApiKey"] = "k-1",
            ["Instrumentation:MaxBatchSize"] = "20",
            ["Instrumentation:MaxWaitTime"] = "00:10:00",
            ["Instrumentation:Context:net_id"] = "ab123",
        }).Build();
        bool handlerUsed = false;
        HostApplicationBuilder builder = Host.CreateApplicationBuilder();
        builder.Services.AddInstrumentation(configuration.GetSection(LogManagerOptions.SectionName))
            .AddHttpMessageHandler(() => new ObservingHandler(() => handlerUsed = true));

        using (IHost host = builder.Build())
        {
            await host.StartAsync(TestContext.Current.CancellationToken);
            LogManagerOptions bound = host.Services.GetRequiredService<IOptions<LogManagerOptions>>().Value;
            Assert.Equal((20, TimeSpan.FromMinutes(10), "ab123"), (bound.MaxBatchSize, bound.MaxWaitTime, bound.Context["net_id"]));
            Assert.True(LogEventHub.IsAttached);

            NotebookEvents.CellExecuted("nb-1", "c1", TimeSpan.FromMilliseconds(3)); // generated code → hub → manager
            await host.StopAsync(TestContext.Current.CancellationToken);
        }

        Assert.False(LogEventHub.IsAttached);
        ReceivedRequest request = Assert.Single(collector.Received);
        Assert.Equal("cell", request.Events[0].GetProperty("type").GetString());
        Assert.Equal("ab123", request.Events[0].GetProperty("context").GetProperty("net_id").GetString());
        Assert.Equal("Bearer k-1", request.Authorization);
        Assert.True(handlerUsed, "the named HttpClient's handlers were used");
    }

    [Fact]
    public async Task Host_refuses_to_start_with_invalid_options()
    {
        HostApplicationBuilder builder = Host.CreateApplicationBuilder();
        builder.Services.AddInstrumentation(o => o.Endpoint = new Uri("http://127.0.0.1:1/")).Services
            .Configure<LogManagerOptions>(o => o.MaxQueuedEvents = -1);
        using IHost host = builder.Build();

        var error = await Assert.ThrowsAsync<OptionsValidationException>(() => host.StartAsync(TestContext.Current.CancellationToken));

        Assert.Contains("MaxQueuedEvents must be greater than 0", error.Message, StringComparison.Ordinal);
    }

    private sealed class ObservingHandler(Action onSend) : DelegatingHandler
    {
        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            onSend();
            return base.SendAsync(request, cancellationToken);
        }
    }
}
