using System.Net.Http.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Microsoft.Playwright;
using static Microsoft.Playwright.Assertions;

namespace Instrumentation.Dashboard.Tests;

/// <summary>The four views in Chromium against a collector seeded with known events; run once per store.</summary>
public abstract class DashboardTests<TFixture>(TFixture fixture) : IClassFixture<TFixture>
    where TFixture : DashboardFixture
{
    protected TFixture Fixture { get; } = fixture;

    private string Store => typeof(TFixture).Name.Replace("DashboardFixture", string.Empty, StringComparison.Ordinal).ToLowerInvariant();

    [Fact]
    public async Task EveryPage_LoadsWithoutConsoleErrors()
    {
        await using WatchedPage watched = await OpenAsync();
        SeededEvent any = Fixture.Seeded[0];
        string[] paths =
        [
            "/", "/?range=day", "/?range=week", "/?range=custom&from=2026-01-01T00:00&to=2026-01-02T00:00",
            "/?range=custom&from=0001-01-01T00:00&to=9999-12-31T23:59", "/activity?range=custom&from=0001-01-01T00:00&to=9999-12-31T23:59",
            "/tail", "/events", "/events?type=cell&ctx=net_id&value=ab123&q=needle", $"/events/{any.Id}",
            "/activity", "/activity?key=course_id&sort=value&dir=asc",
        ];
        foreach (string path in paths)
        {
            IResponse? response = await watched.Page.GotoAsync(path);
            Assert.NotNull(response);
            Assert.True(response.Ok, $"{path} answered {response.Status}");
            await Expect(watched.Page.Locator("h1")).ToBeVisibleAsync();
            await watched.ScreenshotAsync($"{Store}-page-{Regex.Replace(path, "[^a-zA-Z0-9]+", "_").Trim('_')}");
        }

        Assert.Empty(watched.Errors);
    }

    [Fact]
    public async Task Overview_ChartShowsTheSeededTypesWithTheirTotals()
    {
        await using WatchedPage watched = await OpenAsync();
        IPage page = watched.Page;
        await page.GotoAsync("/");
        Dictionary<string, long> expected = Fixture.Seeded.Where(e => e.Timestamp > DateTimeOffset.UtcNow.AddHours(-1)).GroupBy(e => e.Type).ToDictionary(g => g.Key, g => (long)g.Count());
        Assert.Equal(70, expected["cell"]);
        Assert.Equal(expected, await LegendAsync(page));
        Assert.Equal(expected, await ChartSumsAsync(page));
        await watched.ScreenshotAsync($"{Store}-overview-hour");

        // The week holds the two-day-old events too; the range is chosen with the form, and the URL keeps it.
        await page.SelectOptionAsync("select[name=range]", "week");
        await page.ClickAsync("form.filters button[type=submit]");
        await Expect(page).ToHaveURLAsync(new Regex("range=week"));
        expected["archive"] = Fixture.Seeded.Count(e => e.Type == "archive");
        Assert.Equal(5, expected["archive"]);
        Assert.Equal(expected, await LegendAsync(page));
        Assert.Equal(expected, await ChartSumsAsync(page));
        Assert.Equal(Fixture.Seeded.Count(e => e.Priority == "batch"), NumberOf(await page.Locator("#totals-by-priority tr", new() { HasText = "batch" }).Locator("td.num").InnerTextAsync()));
        Assert.Equal(Fixture.Seeded.Count(e => e.Priority == "immediate"), NumberOf(await page.Locator("#totals-by-priority tr", new() { HasText = "immediate" }).Locator("td.num").InnerTextAsync()));
        Assert.Empty(watched.Errors);
    }

    [Fact]
    public async Task Explorer_FiltersShowExactlyTheMatchingEvents()
    {
        await using WatchedPage watched = await OpenAsync();
        IPage page = watched.Page;
        await page.GotoAsync("/events");

        // Type and a context field, through the form.
        await page.SelectOptionAsync("select[name=type]", "cell");
        await page.FillAsync("input[name=ctx]", "net_id");
        await page.FillAsync("input[name=value]", "ab123");
        await page.ClickAsync("#explorer-filter button[type=submit]");
        await Expect(page).ToHaveURLAsync(new Regex("type=cell.*ctx=net_id.*value=ab123"));
        Assert.Equal(Ids(e => e.Type == "cell" && e.NetId == "ab123"), await RowIdsAsync(page));

        // Text in data, on top of the same filter; then the link reproduces it in a fresh page.
        await page.FillAsync("input[name=q]", "NEEDLE");
        await page.ClickAsync("#explorer-filter button[type=submit]");
        HashSet<string> needles = Ids(e => e.Type == "cell" && e.NetId == "ab123" && e.Code.Contains("needle", StringComparison.Ordinal));
        Assert.NotEmpty(needles);
        Assert.Equal(needles, await RowIdsAsync(page));
        string link = await page.Locator("#permalink").GetAttributeAsync("href") ?? string.Empty;
        await using (WatchedPage other = await OpenAsync())
        {
            await other.Page.GotoAsync("/" + link);
            Assert.Equal(needles, await RowIdsAsync(other.Page));
        }

        // A time range: the archive events two days back, and nothing else.
        string from = (Fixture.SeededAt - TimeSpan.FromDays(3)).UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm", System.Globalization.CultureInfo.InvariantCulture);
        string to = (Fixture.SeededAt - TimeSpan.FromDays(1)).UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm", System.Globalization.CultureInfo.InvariantCulture);
        await page.GotoAsync($"/events?from={from}&to={to}");
        Assert.Equal(Ids(e => e.Type == "archive"), await RowIdsAsync(page));

        // Another context field, any type.
        await page.GotoAsync("/events?ctx=course_id&value=cs102");
        Assert.Equal(Ids(e => e.CourseId == "cs102"), await RowIdsAsync(page));
        await watched.ScreenshotAsync($"{Store}-explorer");
        Assert.Empty(watched.Errors);
    }

    [Fact]
    public async Task Explorer_PagesThroughEveryMatchOnceAndShowsAnEventsJson()
    {
        await using WatchedPage watched = await OpenAsync();
        IPage page = watched.Page;
        await page.GotoAsync("/events?type=cell");
        var seen = new List<string>(await RowIdsListAsync(page));
        Assert.Equal(50, seen.Count);
        await page.ClickAsync("#next-page");
        seen.AddRange(await RowIdsListAsync(page));
        await Expect(page.Locator("#next-page")).ToHaveCountAsync(0);
        Assert.Equal(70, seen.Count);
        Assert.Equal(Ids(e => e.Type == "cell"), seen.ToHashSet());

        SeededEvent newest = Fixture.Seeded.Where(e => e.Type == "cell").MaxBy(e => e.Timestamp)!;
        await page.GotoAsync("/events?type=cell");
        Assert.Equal(newest.Id.ToString("D"), (await RowIdsListAsync(page))[0]);
        await page.Locator($"tr[data-id='{newest.Id:D}'] a").ClickAsync();
        await Expect(page.Locator("#event-id")).ToHaveTextAsync(newest.Id.ToString("D"));
        string json = await page.Locator("#event-json").InnerTextAsync();
        Assert.Contains("\n  \"type\": \"cell\"", json, StringComparison.Ordinal);
        Assert.Equal(newest.Code, JsonNode.Parse(json)!["data"]!["code"]!.GetValue<string>());
        await watched.ScreenshotAsync($"{Store}-event");
        Assert.Empty(watched.Errors);
    }

    [Fact]
    public async Task LiveTail_ShowsANewEventWithinSeconds()
    {
        await using WatchedPage watched = await OpenAsync();
        IPage page = watched.Page;
        await page.GotoAsync("/tail");
        await Expect(page.Locator("#tail-table tbody tr")).Not.ToHaveCountAsync(0);

        SeededEvent fresh = new(Guid.CreateVersion7(), "tail_probe", "immediate", DateTimeOffset.UtcNow, "tt001", "cs101", "hello tail");
        await Fixture.UploadAsync([fresh]);
        await Expect(page.Locator($"#tail-table tr[data-id='{fresh.Id:D}']")).ToBeVisibleAsync(new() { Timeout = 10_000 });
        await Expect(page.Locator("#tail-table tbody tr").First).ToHaveAttributeAsync("data-id", fresh.Id.ToString("D"));
        await watched.ScreenshotAsync($"{Store}-tail");
        Assert.Empty(watched.Errors);
    }

    [Fact]
    public async Task LiveTail_PausedShowsNothingNewUntilResumed()
    {
        await using WatchedPage watched = await OpenAsync();
        IPage page = watched.Page;
        await page.Clock.InstallAsync(); // the poller's timers run on Playwright's clock: no waiting on real time
        await page.GotoAsync("/tail");
        await page.ClickAsync("#tail-toggle");
        await Expect(page.Locator("#tail-toggle")).ToHaveAttributeAsync("aria-pressed", "true");

        SeededEvent fresh = new(Guid.CreateVersion7(), "tail_probe", "immediate", DateTimeOffset.UtcNow, "tt002", "cs101", "while paused");
        await Fixture.UploadAsync([fresh]);
        int requests = 0;
        page.Request += (_, request) =>
        {
            if (request.Url.Contains("/tail/rows", StringComparison.Ordinal))
            {
                Interlocked.Increment(ref requests);
            }
        };
        await page.Clock.RunForAsync(30_000); // fifteen poll intervals pass while paused
        Assert.Equal(0, Volatile.Read(ref requests));
        await Expect(page.Locator($"#tail-table tr[data-id='{fresh.Id:D}']")).ToHaveCountAsync(0);

        await page.ClickAsync("#tail-toggle");
        await Expect(page.Locator($"#tail-table tr[data-id='{fresh.Id:D}']")).ToBeVisibleAsync(new() { Timeout = 10_000 });
        Assert.Empty(watched.Errors);
    }

    [Fact]
    public async Task Activity_ListsEachStudentAndDrillsDownIntoTheExplorer()
    {
        await using WatchedPage watched = await OpenAsync();
        IPage page = watched.Page;
        await page.GotoAsync("/activity");
        foreach (string student in Fixture.Seeded.Select(e => e.NetId).Distinct())
        {
            SeededEvent[] theirs = [.. Fixture.Seeded.Where(e => e.NetId == student)];
            ILocator row = page.Locator($"#activity-table tr[data-value='{student}']");
            ILocator cells = row.Locator("td");
            Assert.Equal(theirs.Length, NumberOf(await cells.Nth(1).InnerTextAsync()));
            Assert.Equal(theirs.Min(e => e.Timestamp).UtcDateTime.ToString("yyyy-MM-dd HH:mm:ss.fff", System.Globalization.CultureInfo.InvariantCulture), await cells.Nth(2).InnerTextAsync());
            Assert.Equal(theirs.Max(e => e.Timestamp).UtcDateTime.ToString("yyyy-MM-dd HH:mm:ss.fff", System.Globalization.CultureInfo.InvariantCulture), await cells.Nth(3).InnerTextAsync());
            Assert.Equal(theirs.Select(e => e.Timestamp.UtcTicks / TimeSpan.TicksPerMinute).Distinct().Count(), NumberOf(await cells.Nth(4).InnerTextAsync()));
            string topType = theirs.GroupBy(e => e.Type).OrderByDescending(g => g.Count()).ThenBy(g => g.Key, StringComparer.Ordinal).First().Key;
            Assert.StartsWith($"{topType} ({theirs.Count(e => e.Type == topType)})", await cells.Nth(5).InnerTextAsync(), StringComparison.Ordinal);
        }

        // Default order: most events first. Sorting by the value flips to alphabetical.
        string[] byEvents = [.. Fixture.Seeded.GroupBy(e => e.NetId).OrderByDescending(g => g.Count()).ThenBy(g => g.Key, StringComparer.Ordinal).Select(g => g.Key)];
        Assert.Equal(byEvents, await ActivityValuesAsync(page));
        await page.ClickAsync("#activity-table th a[data-sort=value]");
        await Expect(page).ToHaveURLAsync(new Regex("sort=value"));
        Assert.Equal([.. Fixture.Seeded.Select(e => e.NetId).Distinct().Order(StringComparer.Ordinal)], await ActivityValuesAsync(page));

        await page.ClickAsync("#activity-table tr[data-value='cd456'] a");
        await Expect(page).ToHaveURLAsync(new Regex("ctx=net_id&value=cd456"));
        Assert.Equal(Ids(e => e.NetId == "cd456"), await RowIdsAsync(page));
        await watched.ScreenshotAsync($"{Store}-activity-drilldown");
        Assert.Empty(watched.Errors);
    }

    [Theory]
    [InlineData(1280, 900)]
    [InlineData(390, 844)]
    public async Task Layout_IsUsableAtDesktopAndPhoneWidths(int width, int height)
    {
        await using WatchedPage watched = await OpenAsync(width, height);
        IPage page = watched.Page;
        foreach (string path in new[] { "/", "/tail", "/events", "/activity" })
        {
            await page.GotoAsync(path);

            // Nothing makes the page scroll sideways (wide tables scroll inside their own box), the navigation and
            // the filter's submit button are on screen, and the chart fits the width.
            Assert.True(await page.EvaluateAsync<bool>("document.documentElement.scrollWidth <= window.innerWidth"), $"{path} scrolls sideways at {width} px");
            foreach (ILocator link in await page.Locator("header nav a").AllAsync())
            {
                await Expect(link).ToBeInViewportAsync();
            }

            if (await page.Locator("svg.chart").CountAsync() > 0)
            {
                LocatorBoundingBoxResult box = (await page.Locator("svg.chart").BoundingBoxAsync())!;
                Assert.InRange(box.X + box.Width, 0, width);
            }

            await watched.ScreenshotAsync($"{Store}-layout-{width}-{path.Trim('/').Replace('/', '_') switch { "" => "overview", var p => p }}");
        }

        Assert.Empty(watched.Errors);
    }

    private Task<WatchedPage> OpenAsync(int width = 1280, int height = 900) => WatchedPage.OpenAsync(Fixture.Browser, Fixture.Address, width, height);

    private HashSet<string> Ids(Func<SeededEvent, bool> predicate) => [.. Fixture.Seeded.Where(predicate).Select(e => e.Id.ToString("D"))];

    private static async Task<HashSet<string>> RowIdsAsync(IPage page) => [.. await RowIdsListAsync(page)];

    private static async Task<List<string>> RowIdsListAsync(IPage page)
    {
        await Expect(page.Locator("h1")).ToBeVisibleAsync();
        var ids = new List<string>();
        foreach (ILocator row in await page.Locator("table.events tbody tr").AllAsync())
        {
            ids.Add(await row.GetAttributeAsync("data-id") ?? string.Empty);
        }

        return ids;
    }

    private static async Task<List<string>> ActivityValuesAsync(IPage page)
    {
        var values = new List<string>();
        foreach (ILocator row in await page.Locator("#activity-table tbody tr").AllAsync())
        {
            values.Add(await row.GetAttributeAsync("data-value") ?? string.Empty);
        }

        return values;
    }

    private static async Task<Dictionary<string, long>> LegendAsync(IPage page)
    {
        var totals = new Dictionary<string, long>();
        foreach (ILocator item in await page.Locator("#legend li").AllAsync())
        {
            totals[(await item.GetAttributeAsync("data-type"))!] = long.Parse((await item.GetAttributeAsync("data-total"))!, System.Globalization.CultureInfo.InvariantCulture);
        }

        return totals;
    }

    // What the chart draws: the sum of each type's bar segments.
    private static async Task<Dictionary<string, long>> ChartSumsAsync(IPage page)
    {
        var sums = new Dictionary<string, long>();
        foreach (ILocator segment in await page.Locator("svg.chart rect[data-type]").AllAsync())
        {
            string type = (await segment.GetAttributeAsync("data-type"))!;
            sums[type] = sums.GetValueOrDefault(type) + long.Parse((await segment.GetAttributeAsync("data-count"))!, System.Globalization.CultureInfo.InvariantCulture);
        }

        return sums;
    }

    private static long NumberOf(string text) => long.Parse(text.Replace(",", string.Empty, StringComparison.Ordinal).Trim(), System.Globalization.CultureInfo.InvariantCulture);
}

/// <summary>The views over the SQLite store.</summary>
public sealed class SqliteDashboardTests(SqliteDashboardFixture fixture) : DashboardTests<SqliteDashboardFixture>(fixture);

/// <summary>The views over the PostgreSQL store.</summary>
public sealed class PostgreSqlDashboardTests(PostgreSqlDashboardFixture fixture) : DashboardTests<PostgreSqlDashboardFixture>(fixture);
