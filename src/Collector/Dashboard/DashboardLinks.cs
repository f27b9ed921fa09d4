using System.Text;
using Instrumentation.Collector.Dashboard.Queries;
using Instrumentation.Collector.Storage;

namespace Instrumentation.Collector.Dashboard;

/// <summary>URLs of the dashboard's pages: the query string holds the whole filter, so a link reproduces the view.</summary>
internal static class DashboardLinks
{
    public static string Explorer(string? type = null, string? from = null, string? to = null, string? contextKey = null, string? contextValue = null, string? text = null, EventCursor? after = null)
    {
        var query = new StringBuilder();
        Add(query, "type", type);
        Add(query, "from", from);
        Add(query, "to", to);
        Add(query, "ctx", contextValue is null ? null : contextKey);
        Add(query, "value", contextValue);
        Add(query, "q", text);
        Add(query, "after", after?.ToString());
        return "events" + (query.Length == 0 ? string.Empty : "?" + query);
    }

    public static string Event(string id) => "events/" + Uri.EscapeDataString(id);

    public static string Activity(string key, string range, string? from, string? to, ActivitySort sort, bool descending)
    {
        var query = new StringBuilder();
        Add(query, "key", key);
        Add(query, "range", range);
        Add(query, "from", range == "custom" ? from : null);
        Add(query, "to", range == "custom" ? to : null);
        Add(query, "sort", sort.ToString().ToLowerInvariant());
        Add(query, "dir", descending ? "desc" : "asc");
        return "activity?" + query;
    }

    private static void Add(StringBuilder query, string name, string? value)
    {
        if (string.IsNullOrEmpty(value))
        {
            return;
        }

        query.Append(query.Length == 0 ? string.Empty : "&").Append(name).Append('=').Append(Uri.EscapeDataString(value));
    }
}
