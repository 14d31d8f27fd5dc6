
shopè
shopshop.example

/old/new

/ping:»pongF
(j 
example.meta
tier
gold
/api*/v2
gold2gold.internal.
"J
2checkout.canary
	/checkout
canary

/
web* checkout"
:pathj	/checkout:

x-vhshopR

x-served-byshop