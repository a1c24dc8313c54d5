from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.utils.translation import gettext_lazy as _
from rest_framework_api_key.admin import APIKeyModelAdmin
from rest_framework_api_key.models import APIKey

from accounts.models import ApiKey
from accounts.services import api_key_assign, api_key_expiry_check, api_key_revoke, api_key_role_check
from contactcenter.common.actors import Actor
from contactcenter.common.domain import DomainError
from contactcenter.common.roles import API_KEY_ROLES, Role

# The library's own concrete model is unused: our ApiKey carries the role.
if admin.site.is_registered(APIKey):
    admin.site.unregister(APIKey)


class ApiKeyForm(forms.ModelForm):
    """Every key expires (at most API_KEY_MAX_DAYS); a supervisor key is a superuser's to issue."""

    role = forms.ChoiceField(choices=[(r.value, r.label) for r in Role if r.value in API_KEY_ROLES])
    request_user = None  # set by the admin (ApiKeyAdmin.get_form)

    class Meta:
        model = ApiKey
        fields = ("name", "role", "expiry_date")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if "expiry_date" in self.fields:
            self.fields["expiry_date"].required = True
            self.fields["expiry_date"].help_text = _("Every key expires, at most %(days)d days from now.") % {
                "days": settings.API_KEY_MAX_DAYS
            }

    def clean_expiry_date(self):
        value = self.cleaned_data.get("expiry_date")
        if value is not None:
            try:
                api_key_expiry_check(value)
            except DomainError as exc:
                raise forms.ValidationError(exc.detail) from None
        return value

    def clean_role(self):
        role = self.cleaned_data.get("role")
        try:
            api_key_role_check(role, issuer=self.request_user)
        except DomainError as exc:
            raise forms.ValidationError(exc.detail) from None
        return role


@admin.register(ApiKey)
class ApiKeyAdmin(APIKeyModelAdmin):
    form = ApiKeyForm
    list_display = ("prefix", "name", "role", "created", "expiry_date", "_has_expired", "revoked", "last_used_at")
    list_filter = ("role", "revoked", "created")
    fields = ("name", "role", "expiry_date", "revoked", "prefix", "created", "last_used_at")
    actions = ["revoke_selected"]

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return ("prefix", "created", "last_used_at", "revoked")
        # A key's role and name are fixed once issued; revoking goes through the action (audited).
        return ("name", "role", "prefix", "created", "last_used_at", "revoked")

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change=change, **kwargs)
        form.request_user = getattr(request, "user", None)
        return form

    def save_model(self, request, obj, form=None, change=False):
        if change:
            obj.save(update_fields=["expiry_date"])
            return
        key = api_key_assign(api_key=obj, actor=Actor.user(request.user), issuer=request.user)
        messages.warning(
            request,
            _("The API key for %(name)s is: %(key)s. Store it somewhere safe: it will not be shown again.")
            % {"name": obj.name, "key": key},
        )

    def has_delete_permission(self, request, obj=None):
        return False  # revoke instead: the prefix stays known for the audit trail

    @admin.action(description=_("Revoke selected API keys"), permissions=["change"])
    def revoke_selected(self, request, queryset):
        revoked = sum(
            api_key_revoke(api_key_id=pk, actor=Actor.user(request.user))
            for pk in queryset.values_list("pk", flat=True)
        )
        messages.success(request, _("%(count)d API key(s) revoked.") % {"count": revoked})
