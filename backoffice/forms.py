import unicodedata

from django import forms
from django.contrib.auth import get_user_model
from django.utils.translation import gettext_lazy as _

from contactcenter.common.pii import InvalidPhoneNumber, phone_normalize
from contactcenter.common.roles import Role
from interactions.models import InteractionStatus


class AgentChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj):
        return obj.get_full_name() or obj.get_username()


class AssignForm(forms.Form):
    agent = AgentChoiceField(
        label=_("Agent"),
        queryset=get_user_model().objects.none(),
        required=False,
        empty_label=_("(nobody: unassign)"),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["agent"].queryset = (
            get_user_model()
            .objects.filter(is_active=True, groups__name__in=[Role.AGENT, Role.SUPERVISOR])
            .distinct()
            .order_by("username")
        )


class StatusForm(forms.Form):
    status = forms.ChoiceField(label=_("New status"), choices=InteractionStatus.choices)


# A reason given to see or take personal data: long enough to say something, short enough for an audit record.
REASON_MIN_LENGTH = 5
REASON_MAX_LENGTH = 200


class ReasonField(forms.CharField):
    """A reason people give before they see numbers in clear: what is read is what is recorded. Invisible characters
    (zero-width spaces, joiners, other format characters) are dropped, runs of spaces folded, and what is left must
    hold REASON_MIN_LENGTH letters or digits."""

    def to_python(self, value):
        text = super().to_python(value)
        text = "".join(char for char in text if unicodedata.category(char) not in ("Cf", "Cc", "Co", "Cn"))
        return " ".join(text.split())

    def validate(self, value):
        super().validate(value)
        if value and sum(char.isalnum() for char in value) < REASON_MIN_LENGTH:
            raise forms.ValidationError(
                _("Give a reason of at least %(n)d letters or digits.") % {"n": REASON_MIN_LENGTH}, code="min_length"
            )


class RevealForm(forms.Form):
    reason = ReasonField(
        label=_("Reason"),
        min_length=REASON_MIN_LENGTH,
        max_length=REASON_MAX_LENGTH,
        help_text=_("Why you need the customer's full number. Recorded in the audit log with your name and address."),
        widget=forms.TextInput(attrs={"size": 60}),
    )


class ExportForm(forms.Form):
    """Confirms a CSV export: with the customers' numbers in clear, the user gives a reason, as for a reveal."""

    reason = ReasonField(
        label=_("Reason"),
        min_length=REASON_MIN_LENGTH,
        max_length=REASON_MAX_LENGTH,
        help_text=_(
            "Why you need the customers' full numbers in a file. Recorded in the audit log with your name, your "
            "address and what was exported."
        ),
        widget=forms.TextInput(attrs={"size": 60}),
    )

    def __init__(self, *args, reason_required: bool = True, **kwargs):
        super().__init__(*args, **kwargs)
        if not reason_required:
            del self.fields["reason"]


class CustomerEraseForm(forms.Form):
    phone = forms.CharField(
        label=_("Customer phone number"),
        max_length=40,
        help_text=_("In international format, e.g. +5215512345678."),
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
    )
    reason = forms.CharField(
        label=_("Reason"),
        max_length=500,
        help_text=_("Why this customer's data is erased (request or ticket reference). Kept in the audit log."),
        widget=forms.Textarea(attrs={"rows": 3}),
    )
    confirm = forms.BooleanField(
        label=_("I understand this cannot be undone"),
        required=False,
        help_text=_("Leave unticked to see first how much would be erased."),
    )

    def clean_phone(self):
        try:
            return phone_normalize(self.cleaned_data["phone"])
        except InvalidPhoneNumber as exc:
            raise forms.ValidationError(_("Not a phone number in international format.")) from exc

    def clean_reason(self):
        reason = " ".join(self.cleaned_data["reason"].split())
        if not reason:
            raise forms.ValidationError(_("Give the reason for the erasure."))
        return reason
