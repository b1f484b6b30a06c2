using System.Globalization;
using System.Text.Json;
using Prefork.App;

namespace TodoApi;

public sealed record Todo(long Id, string Title, bool Done);

/// <summary>What a client posts: the id is the server's to give.</summary>
public sealed record NewTodo(string? Title, bool Done);

/// <summary>
/// A small JSON API on Prefork's app contract: GET /todos, POST /todos, GET and DELETE /todos/{id}.
/// The list lives in a SQLite file (<see cref="TodoStore"/>) that every worker opens, so whichever worker
/// answers sees the same todos. GET /boom fails on purpose, to show that an exception costs one request a 500
/// and nothing more.
/// </summary>
public sealed class TodoApp : IHttpApp
{
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);
    private readonly TodoStore _store = new(TodoStore.PathFromEnvironment());

    public async ValueTask HandleAsync(HttpRequest request, HttpResponse response)
    {
        var path = request.Path;
        if (path == "/todos")
        {
            switch (request.Method)
            {
                case Method.Get or Method.Head:
                    Reply(response, 200, await OffTheLoop(_store.All));
                    break;
                case Method.Post:
                    await CreateAsync(request, response);
                    break;
                default:
                    MethodNotAllowed(response, "GET, HEAD, POST");
                    break;
            }
        }
        else if (path.StartsWith("/todos/", StringComparison.Ordinal)
                 && long.TryParse(path["/todos/".Length..], NumberStyles.None, CultureInfo.InvariantCulture, out long id))
        {
            switch (request.Method)
            {
                case Method.Get or Method.Head:
                    if (await OffTheLoop(() => _store.Find(id)) is { } todo) Reply(response, 200, todo);
                    else Reply(response, 404, new { error = $"no todo {id}" });
                    break;
                case Method.Delete:
                    if (await OffTheLoop(() => _store.Remove(id))) response.StatusCode = 204;
                    else Reply(response, 404, new { error = $"no todo {id}" });
                    break;
                default:
                    MethodNotAllowed(response, "GET, HEAD, DELETE");
                    break;
            }
        }
        else if (path == "/boom")
        {
            throw new InvalidOperationException("this endpoint fails on purpose");
        }
        else
        {
            Reply(response, 404, new { error = "not found" });
        }
    }

    private async ValueTask CreateAsync(HttpRequest request, HttpResponse response)
    {
        NewTodo? posted;
        try
        {
            posted = await JsonSerializer.DeserializeAsync<NewTodo>(request.BodyStream, Json);
        }
        catch (JsonException e)
        {
            Reply(response, 400, new { error = $"the body is not a todo: {e.Message}" });
            return;
        }
        if (string.IsNullOrWhiteSpace(posted?.Title))
        {
            Reply(response, 400, new { error = "a todo needs a title" });
            return;
        }
        var todo = await OffTheLoop(() => _store.Add(posted.Title, posted.Done));
        response.AddHeader("Location", $"/todos/{todo.Id}");
        Reply(response, 201, todo);
    }

    // SQLite calls block (and may wait for another worker's write): off the worker's event loop, on the thread
    // pool, so an async worker goes on serving its other connections meanwhile.
    private static Task<T> OffTheLoop<T>(Func<T> query) => Task.Run(query);

    private static void Reply<T>(HttpResponse response, int status, T value)
    {
        response.StatusCode = status;
        response.ContentType = "application/json";
        response.Write(JsonSerializer.SerializeToUtf8Bytes(value, Json));
    }

    private static void MethodNotAllowed(HttpResponse response, string allowed)
    {
        Reply(response, 405, new { error = "method not allowed" });
        response.AddHeader("Allow", allowed);
    }
}
