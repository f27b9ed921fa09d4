using Instrumentation.Testing;
using Microsoft.Extensions.Time.Testing;

namespace Instrumentation.Tests;

/// <summary>Attaches an in-memory sink with a fake clock to the hub for the length of a test.</summary>
internal sealed class EventCapture : IDisposable
{
    public static readonly DateTimeOffset Start = new(2026, 11, 29, 12, 0, 0, TimeSpan.Zero);

    private readonly IDisposable _attachment;

    public EventCapture()
    {
        Time = new FakeTimeProvider(Start);
        Sink = new InMemoryLogEventSink();
        _attachment = LogEventHub.Attach(Sink, Time);
    }

    public FakeTimeProvider Time { get; }

    public InMemoryLogEventSink Sink { get; }

    public void Dispose() => _attachment.Dispose();
}
