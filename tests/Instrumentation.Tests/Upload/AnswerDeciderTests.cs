using Instrumentation.Upload;

namespace Instrumentation.Tests.Upload;

/// <summary>The decision table: (request, answer) → what happens to the request and each event, without HTTP.</summary>
public class AnswerDeciderTests
{
    private const int Budget = 3;

    public static TheoryData<string, int, int, string, string> Table => new()
    {
        // outcome, status, events in the request, effect, per-event actions (D deliver, R retry, X dead letter)
        { "Accepted", 200, 3, "Succeeded", "DDD" },
        { "TooLarge", 413, 4, "Split", "RRRR" },
        { "TooLarge", 413, 1, "Finished", "X" },
        { "BadRequest", 400, 2, "Finished", "XX" },
        { "ServerError", 500, 2, "RetryLater", "RR" },
        { "Throttled", 503, 2, "RetryLater", "RR" }, // no Retry-After: only this request waits
        { "NetworkError", 0, 2, "RetryLater", "RR" },
        { "Unauthorized", 401, 2, "PauseEndpoint", "RR" },
        { "UnexpectedResponse", 302, 2, "RetryLater", "RR" },
        { "UnexpectedResponse", 200, 1, "RetryLater", "R" },
    };

    [Theory]
    [MemberData(nameof(Table))]
    public void Each_answer_maps_to_its_decisions(string outcome, int status, int events, string effect, string actions)
    {
        var response = new UploadResponse(Enum.Parse<UploadOutcome>(outcome), status, null, [], "detail");

        AnswerDecision decision = AnswerDecider.Decide(events, _ => 0, Budget, response);

        Assert.Equal(Enum.Parse<RequestEffect>(effect), decision.Effect);
        Assert.Equal(actions, Actions(decision, events));
        Assert.Equal(outcome == "ServerError", decision.ChargesRetryBudget);
    }

    [Fact]
    public void Retry_after_on_throttling_pauses_the_endpoint()
    {
        var response = new UploadResponse(UploadOutcome.Throttled, 429, TimeSpan.FromSeconds(7), [], null);

        Assert.Equal(RequestEffect.PauseEndpoint, AnswerDecider.Decide(2, _ => 0, Budget, response).Effect);
    }

    [Fact]
    public void A_server_error_dead_letters_only_the_events_out_of_budget()
    {
        int[] attempts = [0, Budget - 1, Budget];
        var response = new UploadResponse(UploadOutcome.ServerError, 502, null, [], "Bad Gateway");

        AnswerDecision decision = AnswerDecider.Decide(3, i => attempts[i], Budget, response);

        Assert.Equal("RRX", Actions(decision, 3)); // the budget allows MaxRetryAttempts server errors, not one more
        Assert.Equal(DeadLetterReasons.RetryBudgetExhausted, decision.For(2).Reason);
    }

    [Fact]
    public void A_split_halves_the_request()
    {
        AnswerDecision decision = AnswerDecider.Decide(7, _ => 0, Budget, new UploadResponse(UploadOutcome.TooLarge, 413, null, [], null));

        Assert.Equal(3, decision.SplitLimit);
    }

    [Fact]
    public void Rejected_items_use_fixed_reasons_and_keep_the_server_text_as_detail()
    {
        var response = new UploadResponse(UploadOutcome.Accepted, 200, null, [new(1, "database busy", true), new(2, "missing timestamp", false)], null);

        AnswerDecision decision = AnswerDecider.Decide(4, _ => 0, Budget, response);

        Assert.Equal(RequestEffect.Succeeded, decision.Effect);
        Assert.Equal("DRXD", Actions(decision, 4));
        Assert.Equal((DeadLetterReasons.Rejected, "missing timestamp"), (decision.For(2).Reason, decision.For(2).Detail));
        Assert.Equal(0, decision.IgnoredRejections);
    }

    [Fact]
    public void Rejected_indexes_out_of_range_or_repeated_are_ignored_and_counted()
    {
        var response = new UploadResponse(UploadOutcome.Accepted, 200, null, [new(0, "first", false), new(0, "again", true), new(-1, "negative", false), new(5, "beyond", false)], null);

        AnswerDecision decision = AnswerDecider.Decide(2, _ => 0, Budget, response);

        Assert.Equal("XD", Actions(decision, 2)); // the first word about index 0 stands
        Assert.Equal("first", decision.For(0).Detail);
        Assert.Equal(3, decision.IgnoredRejections);
    }

    [Fact]
    public void Dead_letter_reasons_are_a_fixed_set_whatever_the_server_says()
    {
        string[] allowed = [DeadLetterReasons.Rejected, DeadLetterReasons.BadRequest, DeadLetterReasons.TooLarge, DeadLetterReasons.RetryBudgetExhausted];
        UploadResponse[] answers =
        [
            new(UploadOutcome.BadRequest, 400, null, [], "{\"title\":\"" + new string('x', 5000) + "\"}"),
            new(UploadOutcome.Accepted, 200, null, [new(0, Guid.NewGuid().ToString(), false)], null),
            new(UploadOutcome.TooLarge, 413, null, [], "a very long text from a proxy"),
            new(UploadOutcome.ServerError, 500, null, [], "Internal Server Error " + Guid.NewGuid()),
        ];

        foreach (UploadResponse answer in answers)
        {
            AnswerDecision decision = AnswerDecider.Decide(1, _ => Budget, Budget, answer);
            Assert.Equal(EventAction.DeadLetter, decision.For(0).Action);
            Assert.Contains(decision.For(0).Reason, allowed);
        }
    }

    private static string Actions(AnswerDecision decision, int events) =>
        string.Concat(Enumerable.Range(0, events).Select(i => decision.For(i).Action switch
        {
            EventAction.Deliver => 'D',
            EventAction.Retry => 'R',
            _ => 'X',
        }));
}
