"""`hosted` tools (run by the model provider) and where their generated images go.

Generated images arrive as base64. The SDK's default keeps them as data URLs inside thread items,
i.e. megabytes of base64 in the database per image; `GeneratedImageFiles` writes them to file
storage instead and keeps a signed URL (re-signed whenever the thread is read).
"""

from __future__ import annotations

import base64
import functools
import hashlib
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from agents import Agent, CodeInterpreterTool, FileSearchTool, ImageGenerationTool, Tool, WebSearchTool
from chatkit.agents import ResponseStreamConverter

from chatkit_host.config.tools import (
    CodeInterpreterOptions,
    FileSearchOptions,
    ImageGenerationOptions,
    WebSearchOptions,
)
from chatkit_host.context import RequestContext
from chatkit_host.errors import ConfigProblem
from chatkit_host.storage.attachments import HostAttachments
from chatkit_host.storage.files import owner_key

if TYPE_CHECKING:
    from chatkit_host.runtime.tool_kinds import ToolSpec


def build_hosted_tool(spec: ToolSpec) -> Tool:
    hosted = spec.config.hosted
    if isinstance(hosted, str):
        hosted = _DEFAULTS[hosted]()
    if isinstance(hosted, WebSearchOptions):
        # The config's model accepts exactly the keys of the SDK's UserLocation TypedDict.
        return WebSearchTool(user_location=hosted.user_location,  # type: ignore[arg-type]
                             search_context_size=hosted.search_context_size)
    if isinstance(hosted, FileSearchOptions):
        return FileSearchTool(vector_store_ids=list(hosted.vector_store_ids),
                              max_num_results=hosted.max_num_results,
                              include_search_results=hosted.include_search_results)
    if isinstance(hosted, ImageGenerationOptions):
        options: dict[str, Any] = {
            "type": "image_generation", "size": hosted.size, "quality": hosted.quality,
            "background": hosted.background, "output_format": hosted.output_format,
            "partial_images": hosted.partial_images,
        }
        if hosted.model:
            options["model"] = hosted.model
        # The keys above are the SDK's ImageGeneration TypedDict's; the values come validated.
        return ImageGenerationTool(tool_config=options)  # type: ignore[arg-type]
    assert isinstance(hosted, CodeInterpreterOptions)
    container: Any = hosted.container
    if container == "auto":
        container = {"type": "auto", "file_ids": list(hosted.file_ids)}
    return CodeInterpreterTool(tool_config={"type": "code_interpreter", "container": container})


_DEFAULTS: dict[str, Any] = {
    "web_search": lambda: WebSearchOptions(type="web_search"),
    "image_generation": lambda: ImageGenerationOptions(type="image_generation"),
    "code_interpreter": lambda: CodeInterpreterOptions(type="code_interpreter"),
}


def partial_images(tools: list[Any]) -> int | None:
    """How many partial images an agent's image tool streams (for progress), if any."""
    for tool in tools:
        if isinstance(tool, ImageGenerationTool):
            return int(tool.tool_config.get("partial_images") or 0) or None
    return None


class GeneratedImageFiles(ResponseStreamConverter):
    """Stores generated (and partial) images in file storage; items keep a signed URL."""

    def __init__(self, files: HostAttachments, context: RequestContext, partial_images: int | None):
        super().__init__(partial_images=partial_images)
        self.files = files
        self.context = context

    async def base64_image_to_url(
        self, image_id: str, base64_image: str, partial_image_index: int | None = None
    ) -> str:
        # One file per image: partial images overwrite it until the final one lands.
        ident = "img_" + hashlib.sha256(f"{self.context.user_id}\x00{image_id}".encode()).hexdigest()[:32]
        await self.files.storage.write(owner_key(self.context.user_id), ident, base64.b64decode(base64_image))
        url = self.files.preview_url(ident, self.context)
        # Each partial image gets its own URL, so a browser never shows a cached earlier one.
        return url if partial_image_index is None else f"{url}&p={partial_image_index}"


def image_converter(
    files: HostAttachments | None, runtime: Any, agent: Any, context: RequestContext
) -> ResponseStreamConverter:
    """The stream converter of one turn: generated images to file storage, unless configured off."""
    partial = partial_images(list(getattr(agent, "tools", [])))
    if files is None or runtime.config.converters.generated_images != "files":
        return _plain_converter(partial)
    return GeneratedImageFiles(files, context, partial)


@functools.cache
def _plain_converter(partial: int | None) -> ResponseStreamConverter:
    # Stateless: one per partial-image count serves every turn, rather than one more object
    # each open stream keeps until its end.
    return ResponseStreamConverter(partial_images=partial)


def image_storage_problems(loaded: Any, agents: Mapping[str, Agent]) -> list[ConfigProblem]:
    """Generated images go to file storage unless `converters.generated_images: data_url` says
    otherwise; without a `files` section there is none, and the SDK's default would put them in
    the database as base64 — what the docs promise never happens (#18). So that is refused."""
    config = loaded.config
    if config.files is not None or config.converters.generated_images != "files":
        return []
    problems: list[ConfigProblem] = []
    for name, agent in agents.items():
        if not any(isinstance(tool, ImageGenerationTool) for tool in agent.tools):
            continue
        spec = config.agents.get(name)
        declared = [t for t in (spec.tools if spec else []) if (tool := config.tools.get(t))
                    and _is_image_generation(tool.hosted)]
        where = ("tools", declared[0], "hosted") if declared else ("agents", name, "python")
        problems.append(loaded.problem(
            where, "generated images are kept in file storage, and there is no `files` section",
            "add `files: { url: \"file://.chatkit/files\" }`, or set "
            "`converters.generated_images: data_url` to keep them as base64 in the database",
        ))
    return list(dict.fromkeys(problems))


def _is_image_generation(hosted: Any) -> bool:
    return hosted == "image_generation" or isinstance(hosted, ImageGenerationOptions)
