namespace Instrumentation;

/// <summary>An event that will not be delivered: the server refused it for good, or it ran out of retries.</summary>
/// <param name="EventId">The event's id.</param>
/// <param name="EventType">The event's type.</param>
/// <param name="Reason">Why, one of the fixed <see cref="DeadLetterReasons"/>: <c>rejected</c>, <c>bad_request</c>, <c>too_large</c>, <c>retry_budget_exhausted</c>.</param>
/// <param name="Json">The event's JSON as it would have been sent.</param>
/// <param name="Detail">The server's own words, when it gave any (a rejected item's reason, a 400 body, the last status); null otherwise.</param>
public sealed record DeadLetter(Guid EventId, string EventType, string Reason, ReadOnlyMemory<byte> Json, string? Detail = null);
