namespace Instrumentation.Upload;

/// <summary>Which endpoint a request goes to.</summary>
internal enum UploadKind
{
    /// <summary><c>POST {Endpoint}/logs</c>: one event.</summary>
    Single,

    /// <summary><c>POST {Endpoint}/logs/batch</c>: <c>{"events":[…]}</c>.</summary>
    Batch,
}

/// <summary>Sends one request body to the collector and classifies its answer. Never throws for a failed upload.</summary>
internal interface IUploadTransport
{
    Task<UploadResponse> SendAsync(UploadKind kind, ReadOnlyMemory<byte> json, CancellationToken cancellationToken);
}
