// Package sandbox is an emulator of the Databricks account and workspace identity APIs.
package sandbox
