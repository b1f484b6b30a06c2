using System.Collections.Concurrent;
using System.Globalization;
using System.Text.Json;
using Prefork.Worker.Http;

namespace TodoApi;

public sealed record Todo(int Id, string Title, bool Done);

/// <summary>What a client posts: the id is the server's to give.</summary>
public sealed record NewTodo(string? Title, bool Done);

/// <summary>
/// A small JSON API on Prefork's app contract: GET /todos, POST /todos, GET and DELETE /todos/{id}.
/// Each worker process keeps its own list (state every worker should see belongs in a database), and
/// GET /boom fails on purpose, to show that an exception costs one request a 500 and nothing more.
/// </summary>
public sealed class TodoApp : IHttpApp
{
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);
    private readonly ConcurrentDictionary<int, Todo> _todos = new();
    private int _lastId;

    public async ValueTask HandleAsync(HttpRequest request, HttpResponse response)
    {
        var path = request.Path;
        if (path == "/todos")
        {
            switch (request.Method)
            {
                case Method.Get or Method.Head:
                    Reply(response, 200, _todos.Values.OrderBy(t => t.Id));
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
                 && int.TryParse(path["/todos/".Length..], NumberStyles.None, CultureInfo.InvariantCulture, out int id))
        {
            switch (request.Method)
            {
                case Method.Get or Method.Head:
                    if (_todos.TryGetValue(id, out var todo)) Reply(response, 200, todo);
                    else Reply(response, 404, new { error = $"no todo {id}" });
                    break;
                case Method.Delete:
                    if (_todos.TryRemove(id, out _)) response.StatusCode = 204;
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
        var todo = new Todo(Interlocked.Increment(ref _lastId), posted.Title, posted.Done);
        _todos[todo.Id] = todo;
        response.AddHeader("Location", $"/todos/{todo.Id}");
        Reply(response, 201, todo);
    }

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
