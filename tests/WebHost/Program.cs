using Instrumentation;
using Instrumentation.WebHost;

WebApplicationBuilder builder = WebApplication.CreateBuilder(args);
builder.Services.AddInstrumentation(builder.Configuration.GetSection(LogManagerOptions.SectionName));
WebApplication app = builder.Build();

app.MapPost("/notebooks/{notebookId}/cells/{cellId}", (string notebookId, string cellId) =>
{
    NotebookActivity.CellOpened(notebookId, cellId);
    return Results.NoContent();
});

app.Run();

/// <summary>The app's entry point (public so that tests can name it in <c>WebApplicationFactory&lt;Program&gt;</c>).</summary>
public partial class Program;
