using System.Reflection;
using Microsoft.Extensions.Logging;

namespace Instrumentation.Tests.Upload;

/// <summary>The runtime's log messages: each has its own event id (operators filter and alert on them).</summary>
public class LogEventIdTests
{
    [Fact]
    public void Every_log_message_of_the_runtime_has_a_distinct_event_id()
    {
        Type[] classes = [typeof(Instrumentation.Upload.Log), typeof(Instrumentation.Spool.SpoolLog)];
        var ids = classes
            .SelectMany(c => c.GetMethods(BindingFlags.Static | BindingFlags.Public | BindingFlags.NonPublic))
            .Select(m => (Method: m.DeclaringType!.Name + "." + m.Name, Attribute: m.GetCustomAttribute<LoggerMessageAttribute>()))
            .Where(m => m.Attribute is not null)
            .ToList();

        Assert.True(ids.Count > 10, "the log classes were not found");
        var duplicates = ids.GroupBy(m => m.Attribute!.EventId).Where(g => g.Count() > 1).Select(g => $"{g.Key}: {string.Join(", ", g.Select(m => m.Method))}");
        Assert.Empty(duplicates); // UploadGotNoAnswer and UnexpectedResponse both had 12
    }
}
