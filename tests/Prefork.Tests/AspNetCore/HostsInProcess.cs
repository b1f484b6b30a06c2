namespace Prefork.Tests.AspNetCore;

/// <summary>
/// The test classes that build ASP.NET Core hosts in the test process. While one holds a
/// <see cref="Prefork.AspNetCore.HostInterception"/>, every host built anywhere in the process gets its server:
/// a Kestrel host, or another class's Prefork host, built at that moment would be served by the wrong one. The
/// classes of one collection run one at a time.
/// </summary>
[CollectionDefinition(Name)]
public sealed class HostsInProcess
{
    public const string Name = "ASP.NET Core hosts built in the test process";
}
