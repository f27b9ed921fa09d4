using System.Net.Sockets;
using System.Text;

namespace Instrumentation.Collector.Tests;

/// <summary>HTTP/1.1 over a plain socket, for the bytes HttpClient refuses to send (broken chunked framing, a stalled body).</summary>
internal sealed class RawHttp : IAsyncDisposable
{
    private readonly TcpClient _client;
    private readonly NetworkStream _stream;

    private RawHttp(TcpClient client)
    {
        _client = client;
        _stream = client.GetStream();
    }

    public static async Task<RawHttp> ConnectAsync(Uri address)
    {
        var client = new TcpClient();
        await client.ConnectAsync(address.Host, address.Port, TestContext.Current.CancellationToken);
        return new RawHttp(client);
    }

    public Task SendAsync(string text) => SendAsync(Encoding.ASCII.GetBytes(text));

    public async Task SendAsync(byte[] bytes)
    {
        await _stream.WriteAsync(bytes, TestContext.Current.CancellationToken);
        await _stream.FlushAsync(TestContext.Current.CancellationToken);
    }

    /// <summary>Says the client has sent everything (a half-close); the server can still answer.</summary>
    public void CloseSending() => _client.Client.Shutdown(SocketShutdown.Send);

    /// <summary>Reads until the server closes the connection (requests here say <c>Connection: close</c>, or are refused).</summary>
    public async Task<RawResponse> ReadToEndAsync()
    {
        using var buffer = new MemoryStream();
        try
        {
            await _stream.CopyToAsync(buffer, TestContext.Current.CancellationToken).WaitAsync(TimeSpan.FromSeconds(60), TestContext.Current.CancellationToken);
        }
        catch (IOException)
        {
            // A reset after the answer was sent: what arrived is the answer.
        }

        return RawResponse.Parse(Encoding.UTF8.GetString(buffer.ToArray()));
    }

    /// <summary>Reads one line (for the interim <c>100 Continue</c>).</summary>
    public async Task<string> ReadLineAsync()
    {
        var line = new StringBuilder();
        byte[] one = new byte[1];
        while (await _stream.ReadAsync(one, TestContext.Current.CancellationToken) == 1)
        {
            if (one[0] == '\n')
            {
                return line.ToString().TrimEnd('\r');
            }

            line.Append((char)one[0]);
        }

        return line.ToString();
    }

    public ValueTask DisposeAsync()
    {
        _client.Dispose();
        return ValueTask.CompletedTask;
    }

    public static string Post(string path, string headers, string body = "") =>
        $"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nConnection: close\r\n{headers}\r\n{body}";
}

/// <summary>A response as text: status, headers, body (chunked bodies are left framed; tests look for substrings).</summary>
internal sealed record RawResponse(int Status, string Head, string Body)
{
    public static RawResponse Parse(string text)
    {
        int end = text.IndexOf("\r\n\r\n", StringComparison.Ordinal);
        string head = end < 0 ? text : text[..end];
        string body = end < 0 ? string.Empty : text[(end + 4)..];
        string[] status = head.Split(' ', 3);
        return new RawResponse(status.Length > 1 && int.TryParse(status[1], out int code) ? code : 0, head, body);
    }
}
