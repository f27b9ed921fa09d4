using System.Reflection;
using Instrumentation.Collector.Dashboard.Charts;
using Instrumentation.Collector.Dashboard.Pages;
using Instrumentation.Collector.Dashboard.Queries;
using Instrumentation.Collector.Storage;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace Instrumentation.Collector.Dashboard;

/// <summary>
/// The dashboard's pages, rendered on the server as Razor components (static rendering, no circuit, no WebAssembly):
/// <c>/</c> overview, <c>/tail</c> live tail, <c>/events</c> explorer, <c>/events/{id}</c> one event, <c>/activity</c>
/// activity by context. The only script is the live tail's poller.
/// </summary>
internal static class DashboardEndpoints
{
    public const int ExplorerPageSize = 50;
    public const int TailSize = 50;
    public const int ActivityLimit = 200;

    /// <summary>The dashboard's services: the ingest counters and the store's dashboard queries.</summary>
    public static IServiceCollection AddCollectorDashboard(this IServiceCollection services)
    {
        services.TryAddSingleton<IngestActivity>();
        services.TryAddSingleton(provider => provider.GetRequiredService<IEventStore>().Dashboard);
        return services;
    }

    /// <summary>Maps the pages; returns their group so the host can put them behind the read policy.</summary>
    public static RouteGroupBuilder MapDashboard(this IEndpointRouteBuilder routes)
    {
        // Assets hold no data; they stay reachable so that the sign-in page is styled.
        routes.MapGet("/dashboard/site.css", () => Asset("site.css", "text/css; charset=utf-8"));
        routes.MapGet("/dashboard/tail.js", () => Asset("tail.js", "text/javascript; charset=utf-8"));
        routes.MapDashboardSignIn();

        RouteGroupBuilder pages = routes.MapGroup(string.Empty);
        pages.MapGet("/", OverviewAsync);
        pages.MapGet("/tail", TailAsync);
        pages.MapGet("/tail/rows", TailRowsAsync);
        pages.MapGet("/events", ExplorerAsync);
        pages.MapGet("/events/{id}", EventAsync);
        pages.MapGet("/activity", ActivityAsync);
        return pages;
    }

    private static async Task<IResult> OverviewAsync(string? range, string? from, string? to, IDashboardQueries queries, IngestActivity ingest, TimeProvider time, CancellationToken cancellationToken)
    {
        DateTimeOffset now = time.GetUtcNow();
        bool valid = TimeWindow.TryParse(range, from, to, now, "hour", out TimeWindow window, out string? error);
        if (window.Name == "all")
        {
            window = window with { From = now - TimeSpan.FromDays(30), Until = now, Bucket = TimeWindow.BucketFor(TimeSpan.FromDays(30)) };
        }

        DateTimeOffset until = window.Until ?? now;
        DateTimeOffset start = window.From ?? TimeWindow.Before(until, TimeSpan.FromDays(1));
        TimeSeries series = await queries.CountByTypeOverTimeAsync(start, until, window.Bucket, cancellationToken);
        string chart = StackedBarChart.Render(series, $"Events per {Describe(window.Bucket)} by type");
        var model = new OverviewModel(window, error, series, chart, ingest.AcceptedPerSecond(TimeSpan.FromMinutes(1)), ingest.AcceptedPerSecond(TimeSpan.FromMinutes(10)), ingest.AcceptedTotal, ingest.StartedAt, ingest.RejectedByReason());
        return Page<OverviewPage>(model, valid);
    }

    private static async Task<IResult> TailAsync(IDashboardQueries queries, CancellationToken cancellationToken)
    {
        IReadOnlyList<DashboardEvent> rows = await queries.NewestAsync(null, TailSize, cancellationToken);
        return Page<TailPage>(new TailModel(rows, rows.Count == 0 ? 0 : rows[0].Position.Sequence), valid: true);
    }

    // The poller's request: rows stored after the given sequence, as HTML table rows, and the new last sequence in a header.
    private static async Task<IResult> TailRowsAsync(string? after, HttpContext context, IDashboardQueries queries, CancellationToken cancellationToken)
    {
        long since = 0;
        if (!string.IsNullOrEmpty(after) && (!long.TryParse(after, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out since) || since < 0))
        {
            return TypedResults.Problem(statusCode: StatusCodes.Status400BadRequest, title: "Bad position", detail: "'after' must be the whole number from the X-Tail-Last header.");
        }

        IReadOnlyList<DashboardEvent> rows = await queries.NewestAsync(since, TailSize, cancellationToken);
        context.Response.Headers["X-Tail-Last"] = (rows.Count == 0 ? since : rows[0].Position.Sequence).ToString(System.Globalization.CultureInfo.InvariantCulture);
        context.Response.Headers.CacheControl = "no-store";
        return new ComponentHtmlResult<EventRows>(new Dictionary<string, object?> { ["Rows"] = rows });
    }

    private static async Task<IResult> ExplorerAsync(string? type, string? from, string? to, string? ctx, string? value, string? q, string? after, IDashboardQueries queries, TimeProvider time, CancellationToken cancellationToken)
    {
        bool valid = TimeWindow.TryParse("custom", from, to, time.GetUtcNow(), "all", out TimeWindow window, out string? error);
        EventCursor? position = null;
        if (!string.IsNullOrEmpty(after))
        {
            if (EventCursor.TryParse(after, out EventCursor parsed))
            {
                position = parsed;
            }
            else
            {
                valid = false;
                error = "'after' must be a position from a 'Next page' link.";
            }
        }

        string? key = string.IsNullOrWhiteSpace(ctx) ? null : ctx.Trim();
        string? contextValue = string.IsNullOrEmpty(value) ? null : value;
        if (contextValue is not null && key is null)
        {
            valid = false;
            error = "A context value needs a context field (ctx), such as net_id.";
        }

        if (HasNul(type) || HasNul(key) || HasNul(contextValue) || HasNul(q))
        {
            valid = false;
            error = NulError;
        }

        var filter = new EventFilter(
            string.IsNullOrEmpty(type) ? null : type,
            valid ? window.From : null,
            valid ? window.Until : null,
            key,
            contextValue,
            string.IsNullOrEmpty(q) ? null : q);
        DashboardEventPage page = valid ? await queries.FindEventsAsync(filter, ExplorerPageSize, position, cancellationToken) : new DashboardEventPage([], null);
        IReadOnlyList<string> types = await queries.TypesAsync(cancellationToken);
        IReadOnlyList<string> keys = await queries.ContextKeysAsync(cancellationToken);
        var model = new ExplorerModel(filter.Type, from, to, key, contextValue, filter.Text, error, types, keys, page, position is null);
        return Page<ExplorerPage>(model, valid);
    }

    private static async Task<IResult> EventAsync(string id, IDashboardQueries queries, CancellationToken cancellationToken)
    {
        DashboardEvent? row = Guid.TryParse(id, out Guid eventId) ? await queries.FindEventAsync(eventId, cancellationToken) : null;
        var result = new ComponentHtmlResult<EventPage>(new Dictionary<string, object?> { ["Row"] = row, ["RequestedId"] = id });
        result.StatusCode = row is null ? StatusCodes.Status404NotFound : StatusCodes.Status200OK;
        return result;
    }

    private static async Task<IResult> ActivityAsync(string? key, string? range, string? from, string? to, string? sort, string? dir, IDashboardQueries queries, TimeProvider time, CancellationToken cancellationToken)
    {
        string field = string.IsNullOrWhiteSpace(key) ? "net_id" : key.Trim();
        bool valid = TimeWindow.TryParse(range, from, to, time.GetUtcNow(), "all", out TimeWindow window, out string? error);
        if (HasNul(field))
        {
            valid = false;
            error = NulError;
        }
        ActivitySort order = ActivitySort.Events;
        if (!string.IsNullOrEmpty(sort) && (!Enum.TryParse(sort, ignoreCase: true, out order) || !Enum.IsDefined(order)))
        {
            valid = false;
            error = "'sort' must be events, value, firstseen, lastseen or activeminutes.";
            order = ActivitySort.Events;
        }

        bool descending = dir is null ? order != ActivitySort.Value : !string.Equals(dir, "asc", StringComparison.OrdinalIgnoreCase);
        IReadOnlyList<ContextActivity> rows = valid ? await queries.ActivityAsync(field, window.From, window.Until, order, descending, ActivityLimit, cancellationToken) : [];
        IReadOnlyList<string> keys = await queries.ContextKeysAsync(cancellationToken);
        var model = new ActivityModel(field, window, error, order, descending, keys, rows);
        return Page<ActivityPage>(model, valid);
    }

    // PostgreSQL text cannot hold U+0000 (a query with it fails), and no stored type, context or data text can match it there.
    private const string NulError = "Filters may not contain the character U+0000.";

    private static bool HasNul(string? text) => text is not null && text.Contains('\0', StringComparison.Ordinal);

    private static IResult Page<TPage>(object model, bool valid)
        where TPage : Microsoft.AspNetCore.Components.IComponent
    {
        var result = new ComponentHtmlResult<TPage>(new Dictionary<string, object?> { ["Model"] = model });
        result.StatusCode = valid ? StatusCodes.Status200OK : StatusCodes.Status400BadRequest;
        return result;
    }

    internal static string Describe(TimeSpan bucket) =>
        bucket.TotalMinutes switch
        {
            1 => "minute",
            < 60 => $"{bucket.TotalMinutes:0} minutes",
            60 => "hour",
            < 1440 => $"{bucket.TotalHours:0} hours",
            1440 => "day",
            _ => $"{bucket.TotalDays:0} days",
        };

    private static readonly Lazy<string> Stylesheet = new(() => ReadAsset("site.css"));
    private static readonly Lazy<string> TailScript = new(() => ReadAsset("tail.js"));

    private static IResult Asset(string name, string contentType) =>
        Results.Text(name == "site.css" ? Stylesheet.Value : TailScript.Value, contentType);

    private static string ReadAsset(string name)
    {
        using Stream stream = Assembly.GetExecutingAssembly().GetManifestResourceStream("Instrumentation.Collector.Dashboard.Assets." + name)
            ?? throw new InvalidOperationException($"The dashboard asset '{name}' is not embedded in the collector assembly.");
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd();
    }
}
