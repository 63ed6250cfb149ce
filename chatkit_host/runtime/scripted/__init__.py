"""The offline scripted model: `script` reads a script file (what to say, call or draw per reply),
`model` plays it through the Agents SDK's model interface, `chain` keeps a Responses-style chain of
turns in the response id, `image` makes the PNGs an `image` step returns.

May import: `config` and the foundation; nothing here knows the protocol or HTTP.
"""

from chatkit_host.runtime.scripted.model import ScriptedProvider, ScriptedReplyModel
from chatkit_host.runtime.scripted.script import load_script

__all__ = ["ScriptedProvider", "ScriptedReplyModel", "load_script"]
