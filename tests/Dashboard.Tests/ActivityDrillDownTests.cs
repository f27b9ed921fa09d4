using System.Net;
using System.Text.RegularExpressions;

namespace Instrumentation.Dashboard.Tests;

/// <summary>Links from a counted view (activity, overview totals) into the explorer show exactly the events that were counted.</summary>
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

    [Fact]
    public async Task OverviewTotalOfACustomRange_LinksToExactlyTheEventsItCounted()
    {
        CancellationToken cancellationToken = TestContext.Current.CancellationToken;
        DateTimeOffset now = fixture.SeededAt;

        // The seed's focus events are 3, 10, 17, 24, 31 and 38 minutes old: a range that ends 20 minutes ago counts some of them.
        string from = (now - TimeSpan.FromDays(2)).UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm", System.Globalization.CultureInfo.InvariantCulture);
        string to = (now - TimeSpan.FromMinutes(20)).UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm", System.Globalization.CultureInfo.InvariantCulture);
        string overview = await fixture.Http.GetStringAsync($"/?range=custom&from={from}&to={to}", cancellationToken);
        Match total = FocusTotal().Match(overview);
        Assert.True(total.Success, "The overview has no total for focus.");
        int counted = int.Parse(total.Groups["n"].Value, System.Globalization.CultureInfo.InvariantCulture);
        Assert.InRange(counted, 1, 5);

        string explorer = await fixture.Http.GetStringAsync("/" + WebUtility.HtmlDecode(total.Groups["href"].Value), cancellationToken);
        Assert.Equal(counted, Regex.Count(explorer, "<tr data-seq="));
    }

    [GeneratedRegex("<td><a href=\"(?<href>[^\"]+)\">focus</a></td><td class=\"num\">(?<n>[0-9]+)</td>")]
    private static partial Regex FocusTotal();

    [GeneratedRegex("<tr data-value=\"now001\">\\s*<td><a href=\"(?<href>[^\"]+)\"")]
    private static partial Regex RowLink();
}

/// <summary>Over the SQLite store.</summary>
public sealed class SqliteActivityDrillDownTests(SqliteDashboardFixture fixture) : ActivityDrillDownTests<SqliteDashboardFixture>(fixture);

/// <summary>Over the PostgreSQL store.</summary>
public sealed class PostgreSqlActivityDrillDownTests(PostgreSqlDashboardFixture fixture) : ActivityDrillDownTests<PostgreSqlDashboardFixture>(fixture);
