"""The organisation tree: departments, divisions and the rooms they own."""

from __future__ import annotations

from pydantic import Field

from .base import DisplayName, Id, Strict


class Room(Strict):
    """An office room with resident-information terminals and cameras."""

    id: Id
    name: DisplayName
    site: Id
    floor: int | None = Field(default=None, ge=-10, le=100)


class Division(Strict):
    """A division (分野); its general managers see its rooms' footage."""

    id: Id
    name: DisplayName
    managers: list[Id] = Field(default_factory=list, description="User ids of its managers")
    rooms: list[Room] = Field(default_factory=list)


class Department(Strict):
    """A department (部); its head sees the footage of all its divisions' rooms."""

    id: Id
    name: DisplayName
    head: Id | None = Field(default=None, description="User id of the department head")
    divisions: list[Division] = Field(default_factory=list)


class Org(Strict):
    """The whole organisation tree."""

    departments: list[Department] = Field(default_factory=list)

    def rooms(self) -> list[tuple[Department, Division, Room]]:
        """Every room with the division and department that own it."""
        return [
            (dept, div, room)
            for dept in self.departments
            for div in dept.divisions
            for room in div.rooms
        ]
