using Microsoft.Playwright;

namespace Instrumentation.Dashboard.Tests;

/// <summary>
/// Debian's Chromium driven by Playwright. Playwright's own browser download fails on these machines and is never
/// used: the executable is /usr/bin/chromium (installed from Debian's package when missing, see DebianPackages).
/// </summary>
public sealed class Browser : IAsyncDisposable
{
    public const string ChromiumPath = "/usr/bin/chromium";

    private readonly IPlaywright _playwright;

    private Browser(IPlaywright playwright, IBrowser browser)
    {
        _playwright = playwright;
        Instance = browser;
    }

    public IBrowser Instance { get; }

    public static async Task<Browser> LaunchAsync()
    {
        // A fresh machine has no Chromium: install Debian's package as .ci/run does (as root).
        string? missing = await Instrumentation.Testing.Shared.DebianPackages.EnsureAsync("chromium", ChromiumPath);
        if (missing is not null)
        {
            throw new InvalidOperationException("The browser tests need Debian's Chromium: " + missing);
        }

        Environment.SetEnvironmentVariable("PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD", "1");
        IPlaywright playwright = await Playwright.CreateAsync();
        try
        {
            IBrowser browser = await playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
            {
                ExecutablePath = ChromiumPath,
                Headless = true,
                Args = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--no-first-run"],
            });
            return new Browser(playwright, browser);
        }
        catch
        {
            playwright.Dispose();
            throw;
        }
    }

    public async ValueTask DisposeAsync()
    {
        await Instance.CloseAsync();
        _playwright.Dispose();
    }
}

/// <summary>A page that records the console errors and uncaught exceptions it sees.</summary>
public sealed class WatchedPage : IAsyncDisposable
{
    private readonly IBrowserContext _context;

    private WatchedPage(IBrowserContext context, IPage page)
    {
        _context = context;
        Page = page;
        page.Console += (_, message) =>
        {
            if (message.Type == "error")
            {
                lock (Errors)
                {
                    Errors.Add($"console: {message.Text} ({message.Location})");
                }
            }
        };
        page.PageError += (_, error) =>
        {
            lock (Errors)
            {
                Errors.Add("page error: " + error);
            }
        };
    }

    public IPage Page { get; }

    public List<string> Errors { get; } = [];

    public static async Task<WatchedPage> OpenAsync(Browser browser, Uri baseAddress, int width = 1280, int height = 900)
    {
        IBrowserContext context = await browser.Instance.NewContextAsync(new BrowserNewContextOptions
        {
            BaseURL = baseAddress.ToString(),
            ViewportSize = new ViewportSize { Width = width, Height = height },
        });
        IPage page = await context.NewPageAsync();
        page.SetDefaultTimeout(15_000);
        return new WatchedPage(context, page);
    }

    /// <summary>Saves a full-page screenshot under the test output folder (screenshots/NAME.png).</summary>
    public async Task ScreenshotAsync(string name)
    {
        string folder = Path.Combine(AppContext.BaseDirectory, "screenshots");
        Directory.CreateDirectory(folder);
        await Page.ScreenshotAsync(new PageScreenshotOptions { Path = Path.Combine(folder, name + ".png"), FullPage = true });
    }

    public async ValueTask DisposeAsync() => await _context.CloseAsync();
}
