"""Generated protocol code (generate.sh); do not edit."""
