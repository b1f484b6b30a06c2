using Xunit.Abstractions;

// Most tests here wait, not compute: for a worker to boot, a timeout to pass, a slow request to end. xunit's
// default runs as many tests at once as there are cores (two on the reference machine), which leaves them
// idle; twice that keeps them busy, with MasterProcess's slots bounding the masters alive at once.
[assembly: CollectionBehavior(MaxParallelThreads = 4)]
[assembly: TestCollectionOrderer("Prefork.Tests.BuildsFirst", "Prefork.Tests")]

namespace Prefork.Tests;

/// <summary>
/// The collections of the test classes whose fixture runs the dotnet CLI, the longest single steps of a run
/// (the publish first, the longest). They start first, so the other tests run meanwhile rather
/// than after them; the publish has an obj of its own (PublishedBuild), so the two do not share files.
/// </summary>
public sealed class BuildsFirst : ITestCollectionOrderer
{
    public const string Publish = "dotnet publish", SampleBuild = "dotnet build of a sample",
        WebAppBuild = "dotnet new web and its build", TemplateBuilds = "dotnet new webapi, webapp, mvc and their build",
        OwnMasterPublish = "dotnet publish of an app that is its own master", OwnMasterBuild = "dotnet build of an app that is its own master";

    public IEnumerable<ITestCollection> OrderTestCollections(IEnumerable<ITestCollection> testCollections) =>
        testCollections.OrderBy(c => c.DisplayName switch
        {
            Publish or OwnMasterPublish => 0,
            SampleBuild or WebAppBuild or TemplateBuilds or OwnMasterBuild => 1,
            _ => 2,
        });
}
