using Prefork.Master;

return await MasterProgram.RunAsync(args);
