"""The cost limit of a GraphQL document: the most fields its answer could hold, each list
counted as LIST_SIZE items (a page of any list operation holds at most 100). A document whose
cost passes MAX_COST is refused before anything runs, like one too deep or with too many
aliases. Introspection (`__schema`, `__type`) is free, as in the depth limit."""

from __future__ import annotations

from typing import Any

from graphql import (
    FieldNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    InlineFragmentNode,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
    ValidationRule,
)
from strawberry.extensions import AddValidationRules

from mcp_core.operations import MAX_PAGE_SIZE

LIST_SIZE = MAX_PAGE_SIZE
MAX_COST = 25_000


def _unwrap(graphql_type: Any) -> tuple[Any, bool]:
    """(the named type, whether a list stands between)."""
    is_list = False
    while isinstance(graphql_type, GraphQLNonNull | GraphQLList):
        is_list = is_list or isinstance(graphql_type, GraphQLList)
        graphql_type = graphql_type.of_type
    return graphql_type, is_list


class CostLimitRule(ValidationRule):
    def enter_operation_definition(self, node: OperationDefinitionNode, *_: Any) -> None:
        schema = self.context.schema
        root = {
            OperationType.QUERY: schema.query_type,
            OperationType.MUTATION: schema.mutation_type,
            OperationType.SUBSCRIPTION: schema.subscription_type,
        }[node.operation]
        if root is None:
            return
        cost = self._cost(node.selection_set, root, frozenset())
        if cost > MAX_COST:
            self.report_error(
                GraphQLError(
                    f"The query's cost {cost} exceeds the maximum of {MAX_COST} "
                    f"(every field counts, each list as {LIST_SIZE} items).",
                    node,
                )
            )

    def _cost(self, selections: SelectionSetNode, parent: Any, seen: frozenset[str]) -> int:
        total = 0
        for selection in selections.selections:
            if isinstance(selection, FieldNode):
                total += self._field(selection, parent, seen)
            elif isinstance(selection, InlineFragmentNode):
                total += self._cost(selection.selection_set, parent, seen)
            elif isinstance(selection, FragmentSpreadNode):
                name = selection.name.value
                fragment = self.context.get_fragment(name)
                if fragment is not None and name not in seen:
                    total += self._cost(fragment.selection_set, parent, seen | {name})
        return total

    def _field(self, node: FieldNode, parent: Any, seen: frozenset[str]) -> int:
        name = node.name.value
        if name.startswith("__") or not isinstance(parent, GraphQLObjectType):
            return 0
        definition = parent.fields.get(name)
        if definition is None:  # unknown fields are reported by graphql's own rules
            return 0
        child, is_list = _unwrap(definition.type)
        children = self._cost(node.selection_set, child, seen) if node.selection_set else 0
        return 1 + (LIST_SIZE if is_list else 1) * children


class CostLimiter(AddValidationRules):
    def __init__(self) -> None:
        super().__init__([CostLimitRule])
