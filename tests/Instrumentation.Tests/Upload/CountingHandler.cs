namespace Instrumentation.Tests.Upload;

/// <summary>
/// Counts the uploader's requests in flight, as the client sees them (from send until the answer is read): a request
/// leaves this count before the uploader can free its slot, so the count never overstates the uploader's concurrency.
/// </summary>
internal sealed class CountingHandler() : DelegatingHandler(Instrumentation.Upload.HttpUploadTransport.CreateHandler())
{
    private int _inFlight;
    private int _max;

    public int InFlight => Volatile.Read(ref _inFlight);

    public int Max => Volatile.Read(ref _max);

    /// <summary>Starts a new measurement of the highest count from what is in flight now.</summary>
    public void ResetMax() => Interlocked.Exchange(ref _max, InFlight);

    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        int now = Interlocked.Increment(ref _inFlight);
        for (int seen = Volatile.Read(ref _max); now > seen; seen = Volatile.Read(ref _max))
        {
            Interlocked.CompareExchange(ref _max, now, seen);
        }

        try
        {
            HttpResponseMessage response = await base.SendAsync(request, cancellationToken);
            await response.Content.LoadIntoBufferAsync(cancellationToken); // the answer is read before the request counts as done
            return response;
        }
        finally
        {
            Interlocked.Decrement(ref _inFlight);
        }
    }
}
