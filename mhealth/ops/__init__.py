"""Driving a deployed stage (local or AWS) from a terminal: stack outputs, executions, queries."""
