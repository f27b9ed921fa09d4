namespace Instrumentation;

/// <summary>An event that will not be delivered: the server refused it for good, or it ran out of retries.</summary>
/// <param name="EventId">The event's id.</param>
/// <param name="EventType">The event's type.</param>
/// <param name="Reason">Why (<c>rejected: …</c> with the server's reason, <c>bad_request</c>, <c>too_large</c>, <c>retry_budget_exhausted</c>).</param>
/// <param name="Json">The event's JSON as it would have been sent.</param>
public sealed record DeadLetter(Guid EventId, string EventType, string Reason, ReadOnlyMemory<byte> Json);
