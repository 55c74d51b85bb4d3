"""HTTP routes of /api/auth/admin/pre-approved-users (all ADMIN).

A pre-approval object keeps the original's snake_case field names.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Body, Query

from reefguide.auth.dependencies import AdminUser
from reefguide.db.session import SessionDep
from reefguide.http.routing import ApiRouter
from reefguide.schemas import Message
from reefguide.users import pre_approval
from reefguide.users.schemas import (
    BulkErrorOut,
    BulkPreApprovalIn,
    BulkPreApprovalOut,
    BulkSummaryOut,
    CleanupIn,
    CleanupOut,
    OffsetPageOut,
    PreApprovalIn,
    PreApprovalListOut,
    PreApprovalOut,
    PreApprovalUpdateIn,
    PreApprovedUserOut,
)

router = ApiRouter(prefix="/auth/admin/pre-approved-users", tags=["pre-approval"])

# /bulk and /cleanup are declared before /{approval_id}, which would otherwise claim them.


def _out(approval: object) -> PreApprovedUserOut:
    return PreApprovedUserOut.model_validate(approval)


@router.post("", status_code=201)
async def create_pre_approval(body: PreApprovalIn, session: SessionDep, admin: AdminUser) -> PreApprovalOut:
    """Pre-approve an email with roles; registering with it grants them. The email is
    trimmed and lower-cased. 400 if it is already pre-approved or registered."""
    approval = await pre_approval.create(session, email=body.email, roles=body.roles, created_by=admin)
    return PreApprovalOut(pre_approved_user=_out(approval))


@router.post("/bulk", status_code=201)
async def bulk_create_pre_approvals(
    body: BulkPreApprovalIn, session: SessionDep, admin: AdminUser
) -> BulkPreApprovalOut:
    """Pre-approve many emails. Each one that cannot be created (already
    pre-approved, already registered, repeated in the list) is listed in `errors`;
    the others are created. A malformed entry (bad email, no roles) rejects the
    whole request with 400."""
    result = await pre_approval.bulk_create(
        session,
        [pre_approval.NewPreApproval(email=user.email, roles=user.roles) for user in body.users],
        created_by=admin,
    )
    return BulkPreApprovalOut(
        created=[_out(approval) for approval in result.created],
        errors=[BulkErrorOut(email=email, error=error) for email, error in result.errors],
        summary=BulkSummaryOut(
            total_requested=len(body.users),
            total_created=len(result.created),
            total_errors=len(result.errors),
        ),
    )


@router.post("/cleanup")
async def cleanup_pre_approvals(
    session: SessionDep, _admin: AdminUser, body: Annotated[CleanupIn | None, Body()] = None
) -> CleanupOut:
    """Delete the pre-approvals that were used more than `olderThanDays` (default 30)
    days ago. Unused pre-approvals are never deleted here. The body may be omitted."""
    older_than_days = (body or CleanupIn()).older_than_days
    deleted = await pre_approval.cleanup(session, older_than_days=older_than_days)
    return CleanupOut(deleted_count=deleted)


@router.get("")
async def list_pre_approvals(
    session: SessionDep,
    _admin: AdminUser,
    email: Annotated[str | None, Query(max_length=320, description="Part of the email, any case")] = None,
    used: Annotated[bool | None, Query(description="Only used (true) or unused (false) ones")] = None,
    created_by_user_id: Annotated[int | None, Query(alias="createdByUserId")] = None,
    limit: Annotated[int, Query(description="Clamped to 1–100")] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> PreApprovalListOut:
    """Pre-approvals, newest first. The filters are query parameters (the original
    read them from the body of the GET, which clients cannot send reliably)."""
    page = await pre_approval.list_page(
        session, email=email, used=used, created_by_user_id=created_by_user_id, limit=limit, offset=offset
    )
    return PreApprovalListOut(
        pre_approved_users=[_out(approval) for approval in page.items],
        pagination=OffsetPageOut(total=page.total, limit=page.limit, offset=page.offset),
    )


@router.get("/{approval_id}")
async def get_pre_approval(approval_id: int, session: SessionDep, _admin: AdminUser) -> PreApprovalOut:
    return PreApprovalOut(pre_approved_user=_out(await pre_approval.get(session, approval_id)))


@router.put("/{approval_id}")
async def update_pre_approval(
    approval_id: int, body: PreApprovalUpdateIn, session: SessionDep, _admin: AdminUser
) -> PreApprovalOut:
    """Change an unused pre-approval's email or roles; a used one is 400."""
    approval = await pre_approval.update(session, approval_id, email=body.email, roles=body.roles)
    return PreApprovalOut(pre_approved_user=_out(approval))


@router.delete("/{approval_id}")
async def delete_pre_approval(approval_id: int, session: SessionDep, _admin: AdminUser) -> Message:
    await pre_approval.remove(session, approval_id)
    return Message(message=f"Successfully deleted pre-approval with ID {approval_id}")
