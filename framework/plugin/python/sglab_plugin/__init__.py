"""sglab_plugin: write sglab plugins (encoders, evaluators, generators) in Python.

A plugin is an executable Python file that subclasses one kind and hands an instance
to serve(); the sglab runner starts it like any other plugin (hashicorp/go-plugin over
gRPC with AutoMTLS), which this package implements once for every Python plugin:

    #!/usr/bin/python3
    import os, sys
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.realpath(__file__)), "<to>/framework/plugin/python"))
    from sglab_plugin import Generator, Param, serve

    class MyGenerator(Generator):
        name, version, description = "mine", "0.1.0", "what it does"
        params = [Param("tau", 0.1, "softmax temperature")]
        ...

    if __name__ == "__main__":
        serve(MyGenerator())

Plugins inside the sglab repository put framework/plugin/python on sys.path relative
to their own file, as above; plugins elsewhere set PYTHONPATH to that folder.
"""

from .kinds import (Encoder, Evaluator, Expert, Generator, Library, Metric, Plugin, PluginError, Task,
                    TrainOptions, TrainResult, Transform)
from .logs import Logger, log
from .lora import Adapter, Module, num_params
from .params import Param
from .server import serve

__all__ = [
    "Adapter", "Encoder", "Evaluator", "Expert", "Generator", "Library", "Logger", "Metric", "Module", "Param", "Plugin",
    "PluginError", "Task", "TrainOptions", "TrainResult", "Transform", "log", "num_params", "serve",
]
