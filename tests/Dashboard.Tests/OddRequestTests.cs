using System.Net;

namespace Instrumentation.Dashboard.Tests;

/// <summary>Query strings a user or an attacker may type: each page answers 200 or a 4xx with a reason, never a 5xx.</summary>
/// <typeparam name="TFixture">The store under test.</typeparam>
public abstract class OddRequestTests<TFixture>(TFixture fixture) : IClassFixture<TFixture>
    where TFixture : DashboardFixture
{
    public static TheoryData<string> OddUrls() =>
    [
        "/?range=custom&to=0001-01-01T00:01",
        "/?range=custom&from=0001-01-01T00:00&to=0001-01-01T00:01",
        "/?range=custom&from=9999-12-31T23:58&to=9999-12-31T23:59",
        "/?range=custom&from=9999-12-31T23:59",
        "/?range=custom&from=1926-01-01&to=2126-01-01",
        "/?range=custom&from=%00",
        "/?range=%00",
        "/events?to=0001-01-01T00:01",
        "/events?from=9999-12-31T23:59",
        "/events?q=%00",
        "/events?q=a%00b",
        "/events?type=%00",
        "/events?ctx=%00&value=%00",
        "/events?ctx=net_id&value=%00",
        "/events?q=%25_%5C",
        "/events?after=%00",
        "/events?after=99999999999999999999.99999999999999999999",
        "/events?after=-1.-1",
        "/events/%00",
        "/activity?key=%00",
        "/activity?key=net_id&range=custom&to=0001-01-01T00:01",
        "/activity?key=net_id&range=custom&from=9999-12-31T23:59",
        "/activity?key=net_id&range=custom&from=0001-01-01&to=9999-12-31",
        "/activity?sort=99",
        "/activity?sort=%00&dir=%00",
        "/tail/rows?after=99999999999999999999",
        "/tail/rows?after=9223372036854775807",
        "/login?returnUrl=%00",
    ];

    [Theory]
    [MemberData(nameof(OddUrls))]
    public async Task OddQueryStrings_AnswerWithoutAServerError(string url)
    {
        using HttpResponseMessage response = await fixture.Http.GetAsync(url, TestContext.Current.CancellationToken);
        string body = await response.Content.ReadAsStringAsync(TestContext.Current.CancellationToken);
        Assert.True(response.StatusCode is HttpStatusCode.OK or HttpStatusCode.BadRequest or HttpStatusCode.NotFound or HttpStatusCode.Redirect, $"{url} answered {(int)response.StatusCode}: {body[..Math.Min(body.Length, 400)]}");
    }
}

/// <summary>Over the SQLite store.</summary>
public sealed class SqliteOddRequestTests(SqliteDashboardFixture fixture) : OddRequestTests<SqliteDashboardFixture>(fixture);

/// <summary>Over the PostgreSQL store.</summary>
public sealed class PostgreSqlOddRequestTests(PostgreSqlDashboardFixture fixture) : OddRequestTests<PostgreSqlDashboardFixture>(fixture);
