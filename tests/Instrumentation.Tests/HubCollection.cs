namespace Instrumentation.Tests;

/// <summary>
/// Tests that record events share the one process-wide <see cref="LogEventHub"/>, so they run one at a time.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class HubCollection
{
    public const string Name = "LogEventHub";
}
