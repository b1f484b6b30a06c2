namespace Prefork.App;

/// <summary>The request methods the server knows by name; any other is <see cref="Other"/> (its text is <see cref="HttpRequest.MethodName"/>).</summary>
public enum Method { Other, Get, Head, Post, Put, Delete, Options, Trace, Patch, Connect }
