using System.Net;
using System.Text;
using Instrumentation.Collector.Dashboard;
using Microsoft.Extensions.DependencyInjection;

namespace Instrumentation.Collector.Tests;

/// <summary>What the dashboard counts rejections under is a fixed set, whatever the rejected events hold.</summary>
public sealed class RejectionCountTests
{
    [Fact]
    public async Task Repeated_member_names_are_counted_under_one_reason_without_the_names()
    {
        await using ServiceUnderTest service = await ServiceUnderTest.StartAsync(ServiceUnderTest.NewFolder(), ["--urls", "http://127.0.0.1:0"]);
        string[] events = [.. Enumerable.Range(0, 100).Select(i => InputTests.Raw(data: $"{{\"name{i}\":1,\"name{i}\":2}}"))];

        using var content = new StringContent(TestCollector.Batch(events), Encoding.UTF8, "application/json");
        using HttpResponseMessage response = await service.Client.PostAsync("/logs/batch", content, TestContext.Current.CancellationToken);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Contains("name7", await response.Content.ReadAsStringAsync(TestContext.Current.CancellationToken), StringComparison.Ordinal); // the answer names it
        // Each name used to be a reason of its own: 64 of them filled the dashboard's reasons and pushed real ones into "other".
        KeyValuePair<string, long> counted = Assert.Single(service.Services.GetRequiredService<IngestActivity>().RejectedByReason());
        Assert.Equal(new KeyValuePair<string, long>("a member name appears twice in one object", 100), counted);
    }
}
