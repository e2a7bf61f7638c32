"""Unit tests of sglab_plugin; run from the repository root with
/usr/bin/python3 -m unittest discover -s framework/plugin/python -t framework/plugin/python"""
