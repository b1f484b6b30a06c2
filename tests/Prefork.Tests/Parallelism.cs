using Xunit.Abstractions;

// Most tests here wait, not compute: for a worker to boot, a timeout to pass, a slow request to end. xunit's
// default runs as many tests at once as there are cores (two on the reference machine), which leaves them
// idle; twice that keeps them busy, with MasterProcess's slots bounding the masters alive at once.
[assembly: CollectionBehavior(MaxParallelThreads = 4)]
[assembly: TestCollectionOrderer("Prefork.Tests.BuildsFirst", "Prefork.Tests")]

namespace Prefork.Tests;

/// <summary>
/// The test classes whose fixture runs the dotnet CLI (a publish, a sample's build), one after the other: both
/// restore and build the projects under src/, and on two cores they would only take turns anyway.
/// </summary>
[CollectionDefinition(Name)]
public sealed class DotnetCliBuilds
{
    public const string Name = "dotnet CLI builds";
}

/// <summary>
/// The builds start first: they are the longest single step of a run, and the other tests run meanwhile
/// rather than after them.
/// </summary>
public sealed class BuildsFirst : ITestCollectionOrderer
{
    public IEnumerable<ITestCollection> OrderTestCollections(IEnumerable<ITestCollection> testCollections) =>
        testCollections.OrderBy(c => c.DisplayName == DotnetCliBuilds.Name ? 0 : 1);
}
