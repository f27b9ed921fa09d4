using System.Net;
using System.Text.RegularExpressions;

namespace Instrumentation.Dashboard.Tests;

/// <summary>The activity view's drill-down link for a time range shows the events it counted, the newest included.</summary>
/// <typeparam name="TFixture">The store under test.</typeparam>
public abstract partial class ActivityDrillDownTests<TFixture>(TFixture fixture) : IClassFixture<TFixture>
    where TFixture : DashboardFixture
{
    [Fact]
    public async Task DrillDownForTheLastHour_IncludesAnEventOfTheCurrentMinute()
    {
        CancellationToken cancellationToken = TestContext.Current.CancellationToken;
        var fresh = new SeededEvent(Guid.CreateVersion7(), "cell", "batch", DateTimeOffset.UtcNow, "now001", "cs101", "print(1)");
        await fixture.UploadAsync([fresh]);

        string activity = await fixture.Http.GetStringAsync("/activity?key=net_id&range=hour", cancellationToken);
        Match link = RowLink().Match(activity);
        Assert.True(link.Success, "The activity view has no row for now001.");
        string href = WebUtility.HtmlDecode(link.Groups["href"].Value);
        Assert.Contains("to=", href, StringComparison.Ordinal);

        string explorer = await fixture.Http.GetStringAsync("/" + href, cancellationToken);
        Assert.Contains($"data-id=\"{fresh.Id:D}\"", explorer, StringComparison.Ordinal);
    }

    [GeneratedRegex("<tr data-value=\"now001\">\\s*<td><a href=\"(?<href>[^\"]+)\"")]
    private static partial Regex RowLink();
}

/// <summary>Over the SQLite store.</summary>
public sealed class SqliteActivityDrillDownTests(SqliteDashboardFixture fixture) : ActivityDrillDownTests<SqliteDashboardFixture>(fixture);

/// <summary>Over the PostgreSQL store.</summary>
public sealed class PostgreSqlActivityDrillDownTests(PostgreSqlDashboardFixture fixture) : ActivityDrillDownTests<PostgreSqlDashboardFixture>(fixture);
