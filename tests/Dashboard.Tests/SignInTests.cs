using System.Net;
using System.Net.Http.Headers;
using Instrumentation.Collector.Hosting;
using Microsoft.Playwright;
using static Microsoft.Playwright.Assertions;

namespace Instrumentation.Dashboard.Tests;

/// <summary>A collector with separate ingest and read keys: the dashboard asks for a read key and refuses an ingest key.</summary>
public sealed class SignInTests : IAsyncLifetime
{
    private const string IngestKey = "ingest-key-0123456789";
    private const string ReadKey = "read-key-0123456789";
    private readonly string _folder = Directory.CreateTempSubdirectory("dashboard-signin-").FullName;
    private RunningCollector? _collector;
    private Browser? _browser;

    public async ValueTask InitializeAsync()
    {
        _collector = await CollectorHost.StartAsync(
            new CollectorOptions { DatabasePath = Path.Combine(_folder, "events.db"), IngestKeys = [IngestKey], ReadKeys = [ReadKey] },
            "http://127.0.0.1:0",
            logging => { });
        using var http = new HttpClient { BaseAddress = _collector.Address };
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", IngestKey);
        await SeededEvents.UploadAsync(http, SeededEvents.Create(DateTimeOffset.UtcNow), TestContext.Current.CancellationToken);
        _browser = await Browser.LaunchAsync();
    }

    public async ValueTask DisposeAsync()
    {
        if (_browser is not null)
        {
            await _browser.DisposeAsync();
        }

        if (_collector is not null)
        {
            await _collector.DisposeAsync();
        }

        Directory.Delete(_folder, recursive: true);
    }

    [Fact]
    public async Task ThePageAsksForAReadKey_RefusesAnIngestKey_AndOpensWithTheReadKey()
    {
        await using WatchedPage watched = await WatchedPage.OpenAsync(_browser!, _collector!.Address);
        IPage page = watched.Page;

        // Without a key every page leads to the sign-in form, remembering where it was going.
        await page.GotoAsync("/events?type=cell");
        await Expect(page).ToHaveURLAsync(new System.Text.RegularExpressions.Regex("/login\\?returnUrl="));
        await Expect(page.Locator("h1")).ToHaveTextAsync("Sign in");
        await Expect(page.Locator("input[name=key][type=password]")).ToBeVisibleAsync();
        await watched.ScreenshotAsync("signin-form");

        // An unknown key and an ingest key are refused, and no cookie is set.
        await page.FillAsync("input[name=key]", "not-a-key");
        await page.ClickAsync("button[type=submit]");
        await Expect(page.Locator("#login-error")).ToContainTextAsync("not one of the collector's keys");
        await page.FillAsync("input[name=key]", IngestKey);
        await page.ClickAsync("button[type=submit]");
        await Expect(page.Locator("#login-error")).ToContainTextAsync("ingest key");
        await watched.ScreenshotAsync("signin-ingest-key-refused");
        Assert.DoesNotContain(await page.Context.CookiesAsync(), c => c.Name == "collector_key");
        await page.GotoAsync("/");
        await Expect(page.Locator("h1")).ToHaveTextAsync("Sign in");

        // The read key opens the page that was asked for, and the others.
        await page.GotoAsync("/events?type=cell");
        await page.FillAsync("input[name=key]", ReadKey);
        await page.ClickAsync("button[type=submit]");
        await Expect(page).ToHaveURLAsync(new System.Text.RegularExpressions.Regex("/events\\?type=cell$"));
        await Expect(page.Locator("table.events tbody tr")).ToHaveCountAsync(50);
        BrowserContextCookiesResult cookie = (await page.Context.CookiesAsync()).Single(c => c.Name == "collector_key");
        Assert.True(cookie.HttpOnly);
        Assert.Equal(SameSiteAttribute.Strict, cookie.SameSite);
        foreach (string path in new[] { "/", "/tail", "/activity" })
        {
            IResponse? response = await page.GotoAsync(path);
            Assert.Equal(200, response!.Status);
            Assert.NotEqual("Sign in", await page.Locator("h1").InnerTextAsync());
        }

        await watched.ScreenshotAsync("signin-overview-after");
        // The refused sign-ins answer 401 and 403, which Chromium reports as failed loads; nothing else may appear.
        Assert.DoesNotContain(watched.Errors, e => !e.Contains("status of 401", StringComparison.Ordinal) && !e.Contains("status of 403", StringComparison.Ordinal));
    }

    [Fact]
    public async Task WithoutABrowser_TheDashboardTakesAReadKeyAndRefusesAnIngestKey()
    {
        using var http = new HttpClient(new HttpClientHandler { AllowAutoRedirect = false }) { BaseAddress = _collector!.Address };
        using (HttpResponseMessage anonymous = await http.GetAsync("/", TestContext.Current.CancellationToken))
        {
            Assert.Equal(HttpStatusCode.Redirect, anonymous.StatusCode);
            Assert.StartsWith("/login?returnUrl=", anonymous.Headers.Location!.OriginalString, StringComparison.Ordinal);
        }

        using (var request = new HttpRequestMessage(HttpMethod.Get, "/tail/rows?after=0"))
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", IngestKey);
            using HttpResponseMessage ingest = await http.SendAsync(request, TestContext.Current.CancellationToken);
            Assert.Equal(HttpStatusCode.Forbidden, ingest.StatusCode);
        }

        using (var request = new HttpRequestMessage(HttpMethod.Get, "/activity"))
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", ReadKey);
            using HttpResponseMessage read = await http.SendAsync(request, TestContext.Current.CancellationToken);
            Assert.Equal(HttpStatusCode.OK, read.StatusCode);
        }

        // The cookie of a read key reads; it never uploads.
        using (var request = new HttpRequestMessage(HttpMethod.Post, "/logs") { Content = new StringContent("{}", System.Text.Encoding.UTF8, "application/json") })
        {
            request.Headers.Add("Cookie", "collector_key=" + ReadKey);
            using HttpResponseMessage upload = await http.SendAsync(request, TestContext.Current.CancellationToken);
            Assert.True(upload.StatusCode is HttpStatusCode.Forbidden or HttpStatusCode.Redirect, $"upload with the cookie answered {upload.StatusCode}");
        }

        // A sign-in form posted from another site is refused; an open redirect is not followed.
        using (var request = new HttpRequestMessage(HttpMethod.Post, "/login") { Content = new FormUrlEncodedContent(new Dictionary<string, string> { ["key"] = ReadKey, ["returnUrl"] = "/" }) })
        {
            request.Headers.Add("Origin", "http://evil.example");
            using HttpResponseMessage crossSite = await http.SendAsync(request, TestContext.Current.CancellationToken);
            Assert.Equal(HttpStatusCode.BadRequest, crossSite.StatusCode);
        }

        using (var request = new HttpRequestMessage(HttpMethod.Post, "/login") { Content = new FormUrlEncodedContent(new Dictionary<string, string> { ["key"] = ReadKey, ["returnUrl"] = "//evil.example/" }) })
        {
            using HttpResponseMessage signedIn = await http.SendAsync(request, TestContext.Current.CancellationToken);
            Assert.Equal(HttpStatusCode.Redirect, signedIn.StatusCode);
            Assert.Equal("/", signedIn.Headers.Location!.OriginalString);
        }
    }

    [Fact]
    public async Task SignOut_IsAPostFromTheDashboard_AndForgetsTheCookie()
    {
        using var http = new HttpClient(new HttpClientHandler { AllowAutoRedirect = false, UseCookies = false }) { BaseAddress = _collector!.Address };
        using (HttpResponseMessage get = await http.GetAsync("/logout", TestContext.Current.CancellationToken))
        {
            Assert.Equal(HttpStatusCode.MethodNotAllowed, get.StatusCode);
        }

        using (var request = new HttpRequestMessage(HttpMethod.Get, "/"))
        {
            request.Headers.Add("Cookie", "collector_key=" + ReadKey);
            using HttpResponseMessage page = await http.SendAsync(request, TestContext.Current.CancellationToken);
            Assert.Contains("id=\"sign-out\"", await page.Content.ReadAsStringAsync(TestContext.Current.CancellationToken), StringComparison.Ordinal);
        }

        using (var request = new HttpRequestMessage(HttpMethod.Post, "/logout"))
        {
            request.Headers.Add("Cookie", "collector_key=" + ReadKey);
            request.Headers.Add("Origin", "http://evil.example");
            using HttpResponseMessage crossSite = await http.SendAsync(request, TestContext.Current.CancellationToken);
            Assert.Equal(HttpStatusCode.BadRequest, crossSite.StatusCode);
            Assert.False(crossSite.Headers.Contains("Set-Cookie"));
        }

        using (var request = new HttpRequestMessage(HttpMethod.Post, "/logout"))
        {
            request.Headers.Add("Cookie", "collector_key=" + ReadKey);
            using HttpResponseMessage signedOut = await http.SendAsync(request, TestContext.Current.CancellationToken);
            Assert.Equal(HttpStatusCode.Redirect, signedOut.StatusCode);
            Assert.Equal("/login", signedOut.Headers.Location!.OriginalString);
            Assert.Contains(signedOut.Headers.GetValues("Set-Cookie"), c => c.StartsWith("collector_key=;", StringComparison.Ordinal) && c.Contains("expires=Thu, 01 Jan 1970", StringComparison.OrdinalIgnoreCase));
        }
    }

    [Theory]
    [InlineData("/\t/evil.example/")]
    [InlineData("/\n/evil.example/")]
    [InlineData("/\\evil.example/")]
    [InlineData("/%09/evil.example/")]
    [InlineData("/\u00e9v\u00e9nements")]
    public async Task ReturnUrlsThatABrowserWouldReadAsAnotherSite_OrThatKestrelCannotSend_GoHome(string returnUrl)
    {
        using var http = new HttpClient(new HttpClientHandler { AllowAutoRedirect = false }) { BaseAddress = _collector!.Address };
        using var request = new HttpRequestMessage(HttpMethod.Post, "/login") { Content = new FormUrlEncodedContent(new Dictionary<string, string> { ["key"] = ReadKey, ["returnUrl"] = returnUrl }) };
        using HttpResponseMessage signedIn = await http.SendAsync(request, TestContext.Current.CancellationToken);
        Assert.Equal(HttpStatusCode.Redirect, signedIn.StatusCode);
        string location = signedIn.Headers.Location!.OriginalString;
        Assert.True(location == "/" || location == returnUrl, $"Location was '{location}'");
        Assert.DoesNotContain('\t', location);
        Assert.DoesNotContain('\\', location);
        Assert.False(location.Length > 1 && location[1] == '/', location);
    }
}
