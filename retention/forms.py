from django import forms
from django.utils.translation import gettext_lazy as _

from contactcenter.common.pii import InvalidPhoneNumber, phone_normalize


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
