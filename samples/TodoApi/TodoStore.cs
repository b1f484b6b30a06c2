using Microsoft.Data.Sqlite;

namespace TodoApi;

/// <summary>
/// The todo list, in one SQLite file that every worker process opens. A prefork server's workers share no
/// memory: a list kept in one worker is not there when the next request lands on another, so state that
/// every worker must see lives outside them, here in a database file.
/// </summary>
public sealed class TodoStore
{
    /// <summary>The environment variable that names the database file.</summary>
    public const string PathVariable = "TODOAPI_DB";

    private readonly string _connectionString;

    /// <summary>Opens (or creates) the file and its table; every worker does this when it boots.</summary>
    public TodoStore(string path)
    {
        _connectionString = new SqliteConnectionStringBuilder
        {
            DataSource = path,
            Mode = SqliteOpenMode.ReadWriteCreate,
            // Microsoft.Data.Sqlite retries a statement that finds the file locked by another process (SQLITE_BUSY)
            // for this many seconds before it throws: the busy timeout. Writers from several workers take turns.
            DefaultTimeout = 5,
        }.ToString();
        using var connection = Open();
        // WAL (a setting kept in the file): readers never wait for the writer, and a write is one append to the log.
        // AUTOINCREMENT: a deleted todo's id is never given to a new one.
        using var command = Command(connection, """
            PRAGMA journal_mode = WAL;
            CREATE TABLE IF NOT EXISTS todos (
                id    INTEGER PRIMARY KEY AUTOINCREMENT,
                title TEXT    NOT NULL,
                done  INTEGER NOT NULL
            );
            """);
        command.ExecuteNonQuery();
    }

    /// <summary>$TODOAPI_DB if set, else todos.db next to the app's assembly (not in the current directory).</summary>
    public static string PathFromEnvironment() =>
        Environment.GetEnvironmentVariable(PathVariable) is { Length: > 0 } path
            ? path
            : Path.Combine(Path.GetDirectoryName(typeof(TodoStore).Assembly.Location)!, "todos.db");

    public List<Todo> All()
    {
        using var connection = Open();
        using var command = Command(connection, "SELECT id, title, done FROM todos ORDER BY id");
        using var reader = command.ExecuteReader();
        var todos = new List<Todo>();
        while (reader.Read()) todos.Add(Read(reader));
        return todos;
    }

    public Todo? Find(long id)
    {
        using var connection = Open();
        using var command = Command(connection, "SELECT id, title, done FROM todos WHERE id = $id", ("$id", id));
        using var reader = command.ExecuteReader();
        return reader.Read() ? Read(reader) : null;
    }

    public Todo Add(string title, bool done)
    {
        using var connection = Open();
        using var command = Command(connection, "INSERT INTO todos (title, done) VALUES ($title, $done) RETURNING id",
            ("$title", title), ("$done", done));
        return new Todo((long)command.ExecuteScalar()!, title, done);
    }

    /// <summary>False when there was no such todo.</summary>
    public bool Remove(long id)
    {
        using var connection = Open();
        using var command = Command(connection, "DELETE FROM todos WHERE id = $id", ("$id", id));
        return command.ExecuteNonQuery() > 0;
    }

    // A connection per call, as Microsoft.Data.Sqlite advises: its objects are not thread-safe, and its pool
    // makes opening one cheap.
    private SqliteConnection Open()
    {
        var connection = new SqliteConnection(_connectionString);
        connection.Open();
        return connection;
    }

    private static SqliteCommand Command(SqliteConnection connection, string sql, params (string Name, object Value)[] parameters)
    {
        var command = connection.CreateCommand();
        command.CommandText = sql;
        foreach (var (name, value) in parameters) command.Parameters.AddWithValue(name, value);
        return command;
    }

    private static Todo Read(SqliteDataReader reader) => new(reader.GetInt64(0), reader.GetString(1), reader.GetBoolean(2));
}
