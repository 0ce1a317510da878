"""Azure ML managed online and batch endpoints with managed identities: everything but the program itself.

`config` (the stack schema), `azure` (facts about Azure), `pulumi_io` (what the Pulumi CLI reads and writes),
`offline` (the program without Azure), `local` (Azure ML's runtime on this machine), `cli` (user commands),
`resources` (resources several components share: builders, the propagation wait, the template deployment).
"""
